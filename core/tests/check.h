/* A minimal test framework: TEST() functions are listed in tests.def and run by main.c. */
#ifndef HONCH_TEST_CHECK_H
#define HONCH_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern int check_failures;
extern const char *check_current;

void check_fail(const char *file, int line, const char *fmt, ...);

#define TEST(name) void name(void)

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) check_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); \
    } while (0)

#define CHECK_EQ(a, b)                                                                                   \
    do {                                                                                                 \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);                   \
        if (a_ != b_) check_fail(__FILE__, __LINE__, "%s == %s: %llu != %llu", #a, #b, a_, b_);         \
    } while (0)

#define CHECK_STR(a, b)                                                                                  \
    do {                                                                                                 \
        const char *a_ = (a), *b_ = (b);                                                                 \
        if (strcmp(a_, b_) != 0) check_fail(__FILE__, __LINE__, "%s:\n  got:  %s\n  want: %s", #a, a_, b_); \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                                      \
    do {                                                                                                 \
        const char *h_ = (hay), *n_ = (needle);                                                          \
        if (!strstr(h_, n_)) check_fail(__FILE__, __LINE__, "%s lacks \"%s\":\n%s", #hay, n_, h_);     \
    } while (0)

#define CHECK_LACKS(hay, needle)                                                                         \
    do {                                                                                                 \
        const char *h_ = (hay), *n_ = (needle);                                                          \
        if (strstr(h_, n_)) check_fail(__FILE__, __LINE__, "%s holds \"%s\":\n%s", #hay, n_, h_);      \
    } while (0)

#define CHECK_HEX(bytes, len, hex)                                                                       \
    do {                                                                                                 \
        char got_[2 * 4200 + 1];                                                                         \
        check_hex(got_, (const uint8_t *)(bytes), (len));                                                \
        if (strcmp(got_, (hex)) != 0) check_fail(__FILE__, __LINE__, "%s:\n  got:  %s\n  want: %s", #bytes, got_, (hex)); \
    } while (0)

void check_hex(char *out, const uint8_t *p, size_t n);

#endif
