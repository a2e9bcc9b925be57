/* Encoding primitives, the chunker (W5.5 worked examples), the encoder
 * against the upstream vectors, Retry-After, backoff and status mapping. */
#include <stdlib.h>

#include "check.h"
#include "honch_internal.h"
#include "vectors.h"

static void hex_of_varint(uint64_t v, const char *want) {
    uint8_t b[10];
    size_t n = (size_t)(hc_put_uvarint(b, v) - b);
    CHECK_HEX(b, n, want);
    CHECK_EQ(hc_uvarint_len(v), n);
    uint64_t back;
    CHECK(hc_get_uvarint(b, &back) == b + n);
    CHECK_EQ(back, v);
}

TEST(test_uvarint_table_w4_1) {
    hex_of_varint(0, "00");
    hex_of_varint(127, "7f");
    hex_of_varint(128, "8001");
    hex_of_varint(300, "ac02");
    hex_of_varint(1700000000000ull, "80d095ffbc31");
    hex_of_varint(UINT64_MAX, "ffffffffffffffffff01");
}

TEST(test_zigzag_table_w4_2) {
    const int64_t n[] = {0, -1, 1, 25, 44, 45, -64, 64, INT64_MIN, INT64_MAX};
    const char *want[] = {"00", "01", "02", "32", "58", "5a", "7f", "8001", "ffffffffffffffffff01",
                          "feffffffffffffffff01"};
    for (int i = 0; i < 10; i++) {
        uint8_t b[10];
        size_t len = (size_t)(hc_put_uvarint(b, hc_zigzag(n[i])) - b);
        CHECK_HEX(b, len, want[i]);
    }
}

TEST(test_crc16_check_value_w4_3) {
    CHECK_EQ(hc_crc16(HC_CRC_INIT, (const uint8_t *)"123456789", 9), 0x29B1);
    const uint8_t m[] = {1, 2, 3, 4, 5};
    CHECK_EQ(hc_crc16(HC_CRC_INIT, m, 5), 0x9304);
}

TEST(test_utf8_validation_and_cuts) {
    CHECK(hc_utf8_valid("plain", 5));
    CHECK(hc_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9)); /* é € 😀 */
    CHECK(!hc_utf8_valid("\xc0\xaf", 2));                            /* overlong */
    CHECK(!hc_utf8_valid("\xe0\x80\xaf", 3));                        /* overlong */
    CHECK(!hc_utf8_valid("\xed\xa0\x80", 3));                        /* surrogate */
    CHECK(!hc_utf8_valid("\xf4\x90\x80\x80", 4));                    /* above U+10FFFF */
    CHECK(!hc_utf8_valid("\xe2\x82", 2));                            /* truncated */
    CHECK(!hc_utf8_valid("\xff", 1));
    CHECK(!hc_utf8_valid("\x80", 1));
    CHECK(hc_utf8_valid("", 0));
    /* "aé€" = 61 c3a9 e282ac: cut at 1..5 bytes ends on boundaries */
    const char *s = "a\xc3\xa9\xe2\x82\xac";
    CHECK_EQ(hc_utf8_cut(s, 6, 6), 6);
    CHECK_EQ(hc_utf8_cut(s, 6, 5), 3);
    CHECK_EQ(hc_utf8_cut(s, 6, 4), 3);
    CHECK_EQ(hc_utf8_cut(s, 6, 2), 1);
    CHECK_EQ(hc_utf8_cut(s, 6, 1), 1);
    CHECK(hc_blank(" \t\r\n", 4));
    CHECK(hc_blank("", 0));
    CHECK(!hc_blank(" x ", 3));
}

/* Frames of m (id, F) joined as "hex|hex|...". */
static void chunk_all(const uint8_t *m, uint32_t t, uint32_t id, uint32_t f, char *out) {
    uint32_t o = 0;
    out[0] = 0;
    uint16_t crc = hc_crc16(HC_CRC_INIT, m, t);
    uint8_t crc_le[2] = {(uint8_t)crc, (uint8_t)(crc >> 8)};
    while (o < t) {
        uint8_t fields[16], frame[HONCH_MAX_FRAME_BYTES + 16];
        uint32_t start = o, payload;
        bool final;
        uint32_t nf = hc_frame(t, id, &o, f, fields, &payload, &final);
        CHECK(nf > 0);
        if (!nf) return;
        memcpy(frame, fields, nf);
        memcpy(frame + nf, m + start, payload);
        size_t len = nf + payload;
        if (final) {
            memcpy(frame + len, crc_le, 2);
            len += 2;
        }
        CHECK(len <= f);
        if (out[0]) strcat(out, "|");
        check_hex(out + strlen(out), frame, len);
    }
}

/* Worked example A: the 109-byte message of multi-frame-non-value-boundary, id 3, F = 40. */
TEST(test_chunker_worked_example_a) {
    const vec_t *v = NULL;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++)
        if (!strcmp(vectors[i].name, "multi-frame-non-value-boundary")) v = &vectors[i];
    CHECK(v != NULL);
    if (!v) return;
    uint8_t m[109];
    CHECK_EQ(strlen(v->message_hex), 218);
    for (int i = 0; i < 109; i++) {
        char h[3] = {v->message_hex[2 * i], v->message_hex[2 * i + 1], 0};
        m[i] = (uint8_t)strtoul(h, NULL, 16);
    }
    static const uint32_t offsets[] = {0, 37, 74}, sizes[] = {37, 37, 35};
    static const char *starts[] = {"42036d", "620325", "22034a"};
    uint32_t o = 0;
    for (int step = 0; step < 3; step++) {
        uint8_t fields[16];
        uint32_t payload;
        bool final;
        CHECK_EQ(o, offsets[step]);
        uint32_t nf = hc_frame(109, 3, &o, 40, fields, &payload, &final);
        CHECK_EQ(payload, sizes[step]);
        CHECK_EQ(nf + payload + (final ? 2 : 0), 40);
        CHECK_HEX(fields, nf, starts[step]);
        CHECK_EQ(final, step == 2);
    }
    CHECK_EQ(hc_crc16(HC_CRC_INIT, m, 109), 0x2EF5);
}

TEST(test_chunker_worked_example_b) {
    const uint8_t m[] = {1, 2, 3, 4, 5};
    char out[200];
    chunk_all(m, 5, 7, 6, out);
    CHECK_STR(out, "420705010203|62070304|220704050493");
}

TEST(test_chunker_worked_example_c) {
    const uint8_t m[] = {2, 1, 1};
    char out[200];
    chunk_all(m, 3, 300, 4096, out);
    CHECK_STR(out, "02ac02020101ec81");
}

TEST(test_chunker_refuses_a_frame_limit_too_small_for_the_id) {
    const uint8_t m[] = {1, 2, 3, 4, 5};
    uint8_t fields[16];
    uint32_t o = 3, payload;
    bool final;
    /* F = 6, id 300 (2 bytes), continuation at offset 3: final_cap = 6-1-2-1-2 = 0 */
    CHECK_EQ(hc_frame(5, 300, &o, 6, fields, &payload, &final), 0);
    (void)m;
}

TEST(test_chunker_checks_every_step_before_the_first_frame_w5_5) {
    uint8_t fields[32];
    uint32_t o = 0, payload;
    bool final;
    /* F = 6, id 1, 200 bytes: the first frames are fine (final_cap 2, cap 2) ... */
    CHECK(hc_frame(200, 1, &o, 6, fields, &payload, &final) != 0);
    /* ... but once the offset needs 2 varint bytes, final_cap = 6-1-1-2-2 = 0: the
     * message cannot be sent at all, so none of its frames may go out. */
    CHECK(!hc_frames_fit(200, 1, 6));
    CHECK(!hc_frames_fit(5, 300, 6)); /* fails at the second step */
    CHECK(hc_frames_fit(5, 7, 6));    /* worked example B */
    CHECK(hc_frames_fit(109, 3, 40)); /* worked example A */
    CHECK(hc_frames_fit(HONCH_MAX_MESSAGE_BYTES, 0xFFFFFFFFu, HONCH_MAX_FRAME_BYTES));
    CHECK(hc_frames_fit(HONCH_MAX_MESSAGE_BYTES, 0xFFFFFFFFu, 40));
}

/* A queue record built with the writer (as the client does). */
static int replay(void *ctx, honch_writer_t *w) {
    const vec_event_t *e = ctx;
    for (unsigned i = 0; i < e->nops; i++) {
        const vec_op_t *o = &e->ops[i];
        switch (o->kind) {
        case 'k': honch_w_key(w, o->s, o->n); break;
        case 's': honch_w_str(w, o->s, o->n); break;
        case 'b': honch_w_bytes(w, o->s, o->n); break;
        case 'u': honch_w_uint(w, o->u); break;
        case 'i': honch_w_int(w, o->i); break;
        case 'f': honch_w_f64(w, o->f); break;
        case 'a': honch_w_begin_array(w, o->n); break;
        case 'm': honch_w_begin_map(w, o->n); break;
        case 'e': honch_w_end(w); break;
        case 'N': honch_w_null(w); break;
        case 'T': honch_w_bool(w, true); break;
        case 'F': honch_w_bool(w, false); break;
        }
    }
    return HONCH_STATUS_OK;
}

static size_t make_record(uint8_t *dst, const vec_event_t *e) {
    uint8_t *p = dst + HC_REC_HEADER;
    p = hc_put_uvarint(p, e->ts);
    p = hc_put_uvarint(p, e->name_len);
    memcpy(p, e->name, e->name_len);
    p += e->name_len;
    uint8_t *count = p++;
    honch_writer_t w;
    hc_w_init(&w, p, 1 << 16);
    hc_w_part(&w, 0, HONCH_MAX_PROPERTIES);
    replay((void *)e, &w);
    CHECK_EQ(hc_w_finish_part(&w), HONCH_STATUS_OK);
    *count = (uint8_t)w.top_count;
    size_t size = (size_t)(p - dst) + w.pos;
    dst[0] = HC_REC_EVENT;
    for (int i = 0; i < 4; i++) dst[1 + i] = (uint8_t)(size >> (8 * i));
    return size;
}

TEST(test_encoder_and_chunker_reproduce_upstream_vectors) {
    static uint8_t records[1 << 17];
    static uint8_t out[HONCH_MAX_MESSAGE_BYTES + 1];
    CHECK_EQ(sizeof vectors / sizeof vectors[0], 6);
    for (size_t v = 0; v < sizeof vectors / sizeof vectors[0]; v++) {
        const vec_t *vec = &vectors[v];
        const uint8_t *recs[HONCH_MAX_EVENTS_PER_MESSAGE];
        size_t used = 0;
        for (unsigned i = 0; i < vec->nevents; i++) {
            recs[i] = records + used;
            used += make_record(records + used, &vec->events[i]);
        }
        hc_msg_ctx_t ctx;
        memset(&ctx, 0, sizeof ctx);
        for (int i = 0; i < 7; i++) {
            ctx.strings[i].ptr = vec->ctx[i];
            ctx.strings[i].len = strlen(vec->ctx[i]);
        }
        if (vec->session) {
            ctx.strings[7].ptr = vec->session;
            ctx.strings[7].len = strlen(vec->session);
        }
        ctx.time_source = vec->time_source;
        ctx.base_time = vec->base_time;
        ctx.max_events = HONCH_MAX_EVENTS_PER_MESSAGE;
        uint32_t start, len;
        uint32_t n = hc_encode(&ctx, recs, vec->nevents, out, &start, &len);
        check_current = vec->name;
        CHECK_EQ(n, vec->nevents);
        CHECK_HEX(out + start, len, vec->message_hex);
        char frames[4 * 2 * (HONCH_MAX_FRAME_BYTES + 16) + 8], want[sizeof frames];
        chunk_all(out + start, len, vec->message_id, vec->max_frame, frames);
        want[0] = 0;
        for (unsigned i = 0; i < vec->nframes; i++) {
            if (i) strcat(want, "|");
            strcat(want, vec->frames[i]);
        }
        if (!strcmp(vec->name, "duplicate-continuation")) {
            /* the vector stops after the (repeated) offset-37 frame: compare that prefix */
            frames[strlen(want)] = 0;
        }
        CHECK_STR(frames, want);
    }
    check_current = "test_encoder_and_chunker_reproduce_upstream_vectors";
    /* Worked example A: vector multi-frame-non-value-boundary, F = 40, id 3. */
    CHECK_EQ(sizeof vectors_skipped / sizeof vectors_skipped[0], 3);
}

static void encode_n(const char *name, unsigned count, const char *props, uint32_t *nev, uint32_t *len) {
    static uint8_t records[1 << 18];
    static uint8_t out[HONCH_MAX_MESSAGE_BYTES + 1];
    const uint8_t *recs[HONCH_MAX_EVENTS_PER_MESSAGE];
    size_t used = 0;
    for (unsigned i = 0; i < count && i < HONCH_MAX_EVENTS_PER_MESSAGE; i++) {
        uint8_t *p = records + used + HC_REC_HEADER;
        p = hc_put_uvarint(p, 1700000000000ull + i);
        p = hc_put_uvarint(p, strlen(name));
        memcpy(p, name, strlen(name));
        p += strlen(name);
        uint8_t *cnt = p++;
        honch_writer_t w;
        hc_w_init(&w, p, 1 << 14);
        hc_w_part(&w, 0, HONCH_MAX_PROPERTIES);
        extern int emit_dsl(void *, honch_writer_t *);
        emit_dsl((void *)props, &w);
        CHECK_EQ(hc_w_finish_part(&w), 0);
        *cnt = (uint8_t)w.top_count;
        size_t size = (size_t)(p - (records + used)) + w.pos;
        records[used] = HC_REC_EVENT;
        for (int k = 0; k < 4; k++) records[used + 1 + k] = (uint8_t)(size >> (8 * k));
        recs[i] = records + used;
        used += size;
    }
    hc_msg_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    const char *cs[7] = {"user-1", "device-1", "model-x", "1.0.0", "posix", "0.1.0", "production"};
    for (int i = 0; i < 7; i++) {
        ctx.strings[i].ptr = cs[i];
        ctx.strings[i].len = strlen(cs[i]);
    }
    ctx.time_source = HC_TS_AUTO;
    ctx.max_events = HONCH_MAX_EVENTS_PER_MESSAGE;
    uint32_t start;
    *len = 0;
    *nev = hc_encode(&ctx, recs, count, out, &start, len);
}

TEST(test_encoder_takes_the_longest_prefix_within_every_limit) {
    uint32_t n, len;
    /* 4096 bytes: 10 events with distinct 400-byte strings would need ~4 KiB of strings;
     * the 2048-byte string budget allows 4 of them (context strings take 48 bytes). */
    static char props[64];
    snprintf(props, sizeof props, "@v s*400");
    encode_n("e", 10, props, &n, &len);
    CHECK_EQ(n, 10); /* identical strings are interned once */
    CHECK(len < 600);
    /* A string above 512 bytes never fits: not even one event. */
    encode_n("e", 3, "@v s*513", &n, &len);
    CHECK_EQ(n, 0);
    encode_n("e", 1, "@v s*512", &n, &len);
    CHECK_EQ(n, 1);
    /* 4096 bytes: 1500-byte bytes values (not interned) fit two to a message. */
    encode_n("e", 5, "@v B*1500", &n, &len);
    CHECK_EQ(n, 2);
    CHECK(len <= HONCH_MAX_MESSAGE_BYTES);
    encode_n("e", 1, "@v B*3900", &n, &len); /* + about 100 bytes of context */
    CHECK_EQ(n, 1);
    CHECK(len <= HONCH_MAX_MESSAGE_BYTES);
    encode_n("e", 1, "@v B*4090", &n, &len);
    CHECK_EQ(n, 0);
    /* more than 50 events are never taken */
    encode_n("e", 50, "@count u=1", &n, &len);
    CHECK_EQ(n, 50);
}

TEST(test_encoder_string_budget_cuts_the_prefix) {
    static uint8_t records[1 << 16];
    static uint8_t out[HONCH_MAX_MESSAGE_BYTES + 1];
    const uint8_t *recs[8];
    size_t used = 0;
    /* 8 events, each with its own 500-byte string (distinct first letters). */
    for (int i = 0; i < 8; i++) {
        char text[500];
        memset(text, 'a' + i, sizeof text);
        uint8_t *p = records + used + HC_REC_HEADER;
        p = hc_put_uvarint(p, 1700000000000ull);
        p = hc_put_uvarint(p, 1);
        *p++ = 'e';
        *p++ = 1;
        honch_writer_t w;
        hc_w_init(&w, p, 1024);
        hc_w_part(&w, 0, 64);
        honch_w_key(&w, "v", 1);
        honch_w_str(&w, text, sizeof text);
        size_t size = (size_t)(p - (records + used)) + w.pos;
        records[used] = HC_REC_EVENT;
        for (int k = 0; k < 4; k++) records[used + 1 + k] = (uint8_t)(size >> (8 * k));
        recs[i] = records + used;
        used += size;
    }
    hc_msg_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    const char *cs[7] = {"u", "d", "m", "1", "posix", "0.1.0", "production"};
    for (int i = 0; i < 7; i++) {
        ctx.strings[i].ptr = cs[i];
        ctx.strings[i].len = strlen(cs[i]);
    }
    ctx.max_events = 50;
    uint32_t start, len;
    /* context 21 bytes + "e" + "v" = 23; 4 × 500 = 2000 → 2023 ≤ 2048; a fifth would not fit */
    CHECK_EQ(hc_encode(&ctx, recs, 8, out, &start, &len), 4);
    ctx.max_events = 3;
    CHECK_EQ(hc_encode(&ctx, recs, 8, out, &start, &len), 3);
}

TEST(test_retry_after_parsing_contract_9) {
    const uint64_t wall = 1735689600000ull; /* 2025-01-01T00:00:00Z */
    CHECK_EQ(hc_retry_after_ms("7", 1, 0), 7000);
    CHECK_EQ(hc_retry_after_ms(" \t7 ", 4, 0), 7000);
    CHECK_EQ(hc_retry_after_ms("0", 1, 0), 0);
    CHECK_EQ(hc_retry_after_ms("4294968", 7, 0), 4294967295u); /* × 1000 saturates */
    CHECK_EQ(hc_retry_after_ms("99999999999999999999999999", 26, 0), 4294967295u);
    CHECK_EQ(hc_retry_after_ms("7s", 2, 0), 0);
    CHECK_EQ(hc_retry_after_ms("-7", 2, 0), 0);
    CHECK_EQ(hc_retry_after_ms("", 0, 0), 0);
    CHECK_EQ(hc_retry_after_ms(NULL, 0, 0), 0);
    const char *d = "Wed, 01 Jan 2025 00:00:10 GMT";
    CHECK_EQ(hc_retry_after_ms(d, strlen(d), wall), 10000);
    CHECK_EQ(hc_retry_after_ms(d, strlen(d), wall + 20000), 0);       /* in the past */
    CHECK_EQ(hc_retry_after_ms(d, strlen(d), 5000), 60000);            /* wall clock not valid */
    const char *far = "Fri, 31 Dec 2100 23:59:59 GMT";
    CHECK_EQ(hc_retry_after_ms(far, strlen(far), wall), 4294967295u);
    const char *bad[] = {"Wed, 01 Jan 2025 00:00:10 UTC", "Wed, 32 Jan 2025 00:00:10 GMT",
                         "Wed, 01 Foo 2025 00:00:10 GMT", "Wed 01 Jan 2025 00:00:10 GMT",
                         "Wed, 01 Jan 2025 24:00:10 GMT", "Xyz, 01 Jan 2025 00:00:10 GMT"};
    for (int i = 0; i < 6; i++) CHECK_EQ(hc_retry_after_ms(bad[i], strlen(bad[i]), wall), 0);
    const char *rfc = "Sun, 06 Nov 1994 08:49:37 GMT"; /* RFC 9110's example: 784111777 s */
    CHECK_EQ(hc_retry_after_ms(rfc, strlen(rfc), 784111777000ull - 1000), 60000); /* (wall invalid) */
}

static uint32_t retry_after(const char *v, uint64_t wall) { return hc_retry_after_ms(v, strlen(v), wall); }

TEST(test_retry_after_dates_that_do_not_exist_and_before_1970_contract_9) {
    const uint64_t wall = 1738368000000ull; /* 2025-02-01T00:00:00Z */
    /* A day its month does not have is not an HTTP-date (no rolling over into March). */
    CHECK_EQ(retry_after("Sat, 29 Feb 2025 00:00:10 GMT", wall), 0);
    CHECK_EQ(retry_after("Sun, 30 Feb 2025 00:00:10 GMT", wall), 0);
    CHECK_EQ(retry_after("Thu, 31 Apr 2025 00:00:10 GMT", wall - 1000), 0);
    CHECK_EQ(retry_after("Wed, 00 Jan 2025 00:00:10 GMT", wall), 0);
    CHECK_EQ(retry_after("Fri, 28 Feb 2025 00:00:10 GMT", wall), 27u * 86400000u + 10000u);
    CHECK_EQ(retry_after("Tue, 29 Feb 2028 00:00:00 GMT", 1835308800000ull), 86400000u); /* leap year */
    CHECK_EQ(retry_after("Tue, 29 Feb 2000 00:00:00 GMT", 5), 60000);                    /* 400-year rule */
    CHECK_EQ(retry_after("Thu, 29 Feb 2100 00:00:00 GMT", 5), 0);                        /* 100-year rule */
    CHECK_EQ(retry_after("Thu, 31 Dec 2099 23:59:60 GMT", 5), 60000);                    /* leap second */
    /* A well-formed date before 1970 is still a date: 60000 without a wall clock, else past. */
    CHECK_EQ(retry_after("Wed, 31 Dec 1969 23:59:59 GMT", 5), 60000);
    CHECK_EQ(retry_after("Sat, 01 Jan 0000 00:00:00 GMT", 5), 60000);
    CHECK_EQ(retry_after("Wed, 31 Dec 1969 23:59:59 GMT", wall), 0);
    CHECK_EQ(retry_after("Thu, 01 Jan 1970 00:00:00 GMT", wall), 0);
    /* exact IMF-fixdate only (case, widths, separators); optional whitespace around */
    CHECK_EQ(retry_after("\t Sat, 01 Feb 2025 00:00:10 GMT \t", wall), 10000);
    const char *bad[] = {"sat, 01 Feb 2025 00:00:10 GMT", "Sat, 01 feb 2025 00:00:10 GMT",
                         "Sat, 01 Feb 2025 00:00:10 gmt", "Sat, 1 Feb 2025 00:00:10 GMT",
                         "Sat, 01 Feb 2025 0:00:10 GMT",  "Sat, 01 Feb 2025 00:60:10 GMT",
                         "Sat, 01 Feb 2025 00:00:61 GMT", "Sat, 01 Feb 25 00:00:10 GMT",
                         "Saturday, 01-Feb-25 00:00:10 GMT", "Sat Feb  1 00:00:10 2025",
                         "Sat, 01 Feb 2025 00:00:10 GMT+1", "Sat,  01 Feb 2025 00:00:10 GMT"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (retry_after(bad[i], wall) != 0) check_fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
    /* delta-seconds: digits only */
    CHECK_EQ(retry_after("\t 7\t ", 0), 7000);
    CHECK_EQ(retry_after("007", 0), 7000);
    CHECK_EQ(retry_after("4294967", 0), 4294967000u);
    const char *junk[] = {" ", "+7", "7.5", "1e3", "7 7", "0x10", "\r7"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        if (retry_after(junk[i], 0) != 0) check_fail(__FILE__, __LINE__, "accepted \"%s\"", junk[i]);
}

TEST(test_backoff_worked_vector_contract_9) {
    uint32_t b = 1000;
    CHECK_EQ(hc_backoff(&b, 10000, 10000, 7000), 17000);
    CHECK_EQ(b, 2000);
    /* without Retry-After: 750 + (10000 mod 501) = 1231 */
    b = 1000;
    CHECK_EQ(hc_backoff(&b, 10000, 10000, 0), 11231);
    /* growth and ceiling */
    b = 6000;
    hc_backoff(&b, 10000, 0, 0);
    CHECK_EQ(b, 10000);
    hc_backoff(&b, 10000, 0, 0);
    CHECK_EQ(b, 10000);
    /* q = 0: the wait is exactly b */
    b = 3;
    CHECK_EQ(hc_backoff(&b, 100, 12345, 0), 12348);
    /* the jittered wait stays within b ± 25 % */
    for (uint64_t now = 0; now < 3000; now += 7) {
        b = 1000;
        uint64_t wait = hc_backoff(&b, 300000, now, 0) - now;
        CHECK(wait >= 750 && wait <= 1250);
    }
    /* overflow clamps to the maximum */
    b = 0xF0000000u;
    hc_backoff(&b, 0xFFFFFFFFu, 0, 0);
    CHECK_EQ(b, 0xFFFFFFFFu);
    /* next_retry_at saturates: the largest wait near the end of the clock */
    b = 0xFFFFFFFFu;
    CHECK_EQ(hc_backoff(&b, 0xFFFFFFFFu, UINT64_MAX - 5, 0xFFFFFFFFu), UINT64_MAX);
    CHECK_EQ(b, 0xFFFFFFFFu);
}

TEST(test_status_mapping_contract_8) {
    static const struct {
        int outcome, status;
        bool final;
        int want;
    } cases[] = {
        {HONCH_POST_HTTP, 202, false, HONCH_STATUS_OK},       {HONCH_POST_HTTP, 204, true, HONCH_STATUS_OK},
        {HONCH_POST_HTTP, 200, true, HONCH_STATUS_OK},        {HONCH_POST_HTTP, 201, true, HONCH_STATUS_OK},
        {HONCH_POST_HTTP, 202, true, HONCH_STATUS_TRANSPORT}, {HONCH_POST_HTTP, 204, false, HONCH_STATUS_TRANSPORT},
        {HONCH_POST_HTTP, 200, false, HONCH_STATUS_TRANSPORT}, {HONCH_POST_HTTP, 400, true, HONCH_STATUS_REJECTED},
        {HONCH_POST_HTTP, 401, true, HONCH_STATUS_REJECTED},  {HONCH_POST_HTTP, 403, true, HONCH_STATUS_REJECTED},
        {HONCH_POST_HTTP, 404, false, HONCH_STATUS_REJECTED}, {HONCH_POST_HTTP, 405, true, HONCH_STATUS_REJECTED},
        {HONCH_POST_HTTP, 413, true, HONCH_STATUS_REJECTED},  {HONCH_POST_HTTP, 415, true, HONCH_STATUS_REJECTED},
        {HONCH_POST_HTTP, 422, true, HONCH_STATUS_REJECTED},  {HONCH_POST_HTTP, 408, true, HONCH_STATUS_TIMEOUT},
        {HONCH_POST_HTTP, 409, false, HONCH_STATUS_TRANSPORT}, {HONCH_POST_HTTP, 429, true, HONCH_STATUS_RATE_LIMITED},
        {HONCH_POST_HTTP, 500, true, HONCH_STATUS_SERVER},    {HONCH_POST_HTTP, 503, true, HONCH_STATUS_SERVER},
        {HONCH_POST_HTTP, 599, true, HONCH_STATUS_SERVER},    {HONCH_POST_HTTP, 100, true, HONCH_STATUS_TRANSPORT},
        {HONCH_POST_HTTP, 301, true, HONCH_STATUS_TRANSPORT}, {HONCH_POST_TIMEOUT, 0, true, HONCH_STATUS_TIMEOUT},
        {HONCH_POST_TRANSPORT, 0, true, HONCH_STATUS_TRANSPORT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        honch_response_t r = {cases[i].outcome, cases[i].status, NULL, 0};
        if (hc_classify(&r, cases[i].final) != cases[i].want)
            check_fail(__FILE__, __LINE__, "HTTP %d final=%d -> %d, want %d", cases[i].status, cases[i].final,
                       hc_classify(&r, cases[i].final), cases[i].want);
    }
}

TEST(test_status_texts_contract_3) {
    const char *want[] = {"ok",       "invalid argument", "out of memory",   "io error",  "transport error",
                          "rate limited", "server error", "rejected",        "not initialized",
                          "already initialized", "queue full", "timeout",   "internal error", "busy",
                          "not supported", "offline"};
    for (int i = 0; i < 16; i++) CHECK_STR(honch_status_text(i), want[i]);
    CHECK_STR(honch_status_text(16), "unknown");
    CHECK_STR(honch_status_text(-1), "unknown");
    CHECK(strlen(honch_sdk_version()) > 0);
}
