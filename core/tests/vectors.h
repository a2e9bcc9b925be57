/* Types of the generated vector data (build/core/vectors_data.h, from gen_vectors.py). */
#ifndef HONCH_TEST_VECTORS_H
#define HONCH_TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

typedef struct vec_op {
    char kind; /* k key, s str, b bytes, u uint, i int, f f64, a array(n), m map(n), e end, N T F */
    const char *s;
    size_t n;
    uint64_t u;
    int64_t i;
    double f;
} vec_op_t;

typedef struct vec_event {
    const char *name;
    size_t name_len;
    uint64_t ts;
    const vec_op_t *ops;
    unsigned nops;
} vec_event_t;

typedef struct vec {
    const char *name;
    const char *ctx[7];
    const char *session;
    int time_source; /* HC_TS_OMIT or the value of context id 9 */
    const vec_event_t *events;
    unsigned nevents;
    uint32_t message_id;
    const char *message_hex;
    const char *const *frames;
    unsigned nframes;
    uint32_t max_frame;
    uint64_t base_time; /* the vector's base_time_ms (its first delta may be non-zero) */
} vec_t;

#include "vectors_data.h"

#endif
