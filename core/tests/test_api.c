/* Construction, validation and the lifecycle/system events (contract 2, 4, 5, 10.2, 11). */
#include <stdlib.h>

#include "check.h"
#include "fake.h"
#include "honch_internal.h"

static void start_default(void) {
    fake_reset();
    honch_config_t c = tc_config(8192);
    CHECK_EQ(honch_init(&tc, &c), HONCH_STATUS_OK);
}

TEST(test_init_queues_only_device_boot_and_makes_no_request) {
    start_default();
    CHECK_EQ(fk.nreq, 0);
    honch_queue_stats_t s = tc_stats();
    CHECK_EQ(s.queued_events, 1);
    CHECK_EQ(s.buffer_bytes, 8192);
    CHECK(s.queued_bytes > 0 && s.queued_bytes < 64);
    CHECK_EQ(s.high_water_events, 1);
    const char *d = tc_flush(HONCH_STATUS_OK);
    char want[256];
    snprintf(want, sizeof want,
             "base=1000 dts=0 distinct=device-1 session=- ctx=device-1,model-x,1.0.0,posix,%s,production\n"
             "\"$device_boot\" +0 {reset_reason: \"unknown\"}\n",
             honch_sdk_version());
    CHECK_STR(d, want);
    CHECK_EQ(tc_stats().queued_events, 0);
    CHECK_EQ(tc_stats().queued_bytes, 0);
}

TEST(test_request_target_headers_stream_id_and_message_id) {
    fake_reset();
    honch_config_t c = tc_config(8192);
    c.endpoint_url.ptr = "http://127.0.0.1:8001/base///";
    c.endpoint_url.len = strlen(c.endpoint_url.ptr);
    CHECK_EQ(honch_init(&tc, &c), HONCH_STATUS_OK);
    /* the fake's random bytes count 00 01 02 03 ...: stream id "00010203", seed 0x00010203 */
    CHECK_STR(honch_stream_id(&tc), "00010203");
    tc_flush(HONCH_STATUS_OK);
    const fake_request_t *r = &fake_requests[0];
    CHECK_STR(r->url, "http://127.0.0.1:8001/base/capture");
    CHECK_STR(r->content_type, "application/vnd.honch.chunk");
    CHECK_STR(r->project_key, "test-project-key");
    CHECK_STR(r->stream_id, "00010203");
    CHECK_EQ(r->timeout_ms, HONCH_DEFAULT_TRANSPORT_TIMEOUT_MS);
    /* W3.4: message id = seed + first sequence (1) = 0x00010204 -> uvarint 84 84 04 */
    CHECK(r->body[0] == HONCH_FRAME_SINGLE || r->body[0] == HONCH_FRAME_INIT);
    CHECK_HEX(r->body + 1, 3, "848404");
    /* the second message starts at sequence 2 */
    unsigned first = fk.nreq;
    CHECK_EQ(tc_track("x", NULL), 0);
    tc_flush(HONCH_STATUS_OK);
    CHECK_HEX(fake_requests[first].body + 1, 3, "858404");
}

TEST(test_default_endpoint_and_path_rules) {
    fake_reset();
    honch_config_t c = tc_config(8192);
    c.endpoint_url.ptr = NULL;
    CHECK_EQ(honch_init(&tc, &c), 0);
    tc_flush(0);
    CHECK_STR(fake_requests[0].url, "https://i.honch.io/capture");
    fake_reset();
    c = tc_config(8192);
    c.endpoint_url.ptr = "https://i.honch.io/";
    c.endpoint_url.len = strlen(c.endpoint_url.ptr);
    CHECK_EQ(honch_init(&tc, &c), 0);
    tc_flush(0);
    CHECK_STR(fake_requests[0].url, "https://i.honch.io/capture");
}

static int init_with(void (*tweak)(honch_config_t *)) {
    fake_reset();
    honch_config_t c = tc_config(8192);
    tweak(&c);
    return honch_init(&tc, &c);
}

static const char *url_under_test;
static void set_url(honch_config_t *c) {
    c->endpoint_url.ptr = url_under_test;
    c->endpoint_url.len = strlen(url_under_test);
}
static void key_space(honch_config_t *c) { c->api_key.ptr = "bad key", c->api_key.len = 7; }
static void key_empty(honch_config_t *c) { c->api_key.len = 0; }
static void key_missing(honch_config_t *c) { c->api_key.ptr = NULL; }
static void key_del(honch_config_t *c) { c->api_key.ptr = "k\x7f", c->api_key.len = 2; }
static void device_blank(honch_config_t *c) { c->device_id.ptr = " \t\r\n", c->device_id.len = 4; }
static char long_text[600];
static void device_257(honch_config_t *c) { c->device_id.ptr = long_text, c->device_id.len = 257; }
static void device_256(honch_config_t *c) { c->device_id.ptr = long_text, c->device_id.len = 256; }
static void model_missing(honch_config_t *c) { c->device_model.ptr = NULL; }
static void firmware_513(honch_config_t *c) { c->firmware_version.ptr = long_text, c->firmware_version.len = 513; }
static void firmware_512(honch_config_t *c) { c->firmware_version.ptr = long_text, c->firmware_version.len = 512; }
static void env_blank(honch_config_t *c) { c->environment.ptr = "  ", c->environment.len = 2; }
static void device_bad_utf8(honch_config_t *c) { c->device_id.ptr = "dev\xff", c->device_id.len = 4; }
static void no_buffer(honch_config_t *c) { c->event_buffer = NULL; }
static void empty_buffer(honch_config_t *c) { c->event_buffer_len = 0; }
static void battery_101(honch_config_t *c) { c->battery_low_threshold = 101; }
static void battery_100(honch_config_t *c) { c->battery_low_threshold = 100; }
static void no_platform(honch_config_t *c) { c->platform = NULL; }
static honch_platform_t broken;
static void no_post(honch_config_t *c) {
    broken = *c->platform;
    broken.post = NULL;
    c->platform = &broken;
}
static void no_platform_name(honch_config_t *c) { c->sdk_platform.ptr = NULL; }

TEST(test_construction_validation_c11) {
    memset(long_text, 'a', sizeof long_text);
    void (*bad[])(honch_config_t *) = {key_space,   key_empty,       key_missing, key_del,   device_blank,
                                       device_257,  model_missing,   firmware_513, env_blank, device_bad_utf8,
                                       no_buffer,   empty_buffer,    battery_101, no_platform, no_post,
                                       no_platform_name};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = init_with(bad[i]);
        if (st != HONCH_STATUS_INVALID_ARGUMENT) check_fail(__FILE__, __LINE__, "bad config #%zu -> %d", i, st);
        CHECK_EQ(tc_track("x", NULL), HONCH_STATUS_NOT_INITIALIZED); /* left closed */
        CHECK_EQ(fk.nreq, 0);
    }
    void (*good[])(honch_config_t *) = {device_256, firmware_512, battery_100};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) CHECK_EQ(init_with(good[i]), HONCH_STATUS_OK);
}

TEST(test_endpoint_url_rules_w3_1) {
    const char *bad[] = {"ftp://h",        "http://",        "http://:80",      "http://h:0",     "http://h:65536",
                         "http://u@h",     "http://u:p@h/x", "http://h?q=1",    "http://h#frag",  "http://h:8o",
                         "http:/h",        "http://h/p?x",   "http://h /x",     "http://h:",      "https//h",
                         "http://[::1",    "h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        url_under_test = bad[i];
        if (init_with(set_url) != HONCH_STATUS_INVALID_ARGUMENT) check_fail(__FILE__, __LINE__, "accepted %s", bad[i]);
    }
    const char *good[] = {"http://h", "https://h:443/base/", "HTTP://h", "http://[::1]:8001/x", "http://h:65535",
                          "http://127.0.0.1:8001"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        url_under_test = good[i];
        if (init_with(set_url) != HONCH_STATUS_OK) check_fail(__FILE__, __LINE__, "refused %s", good[i]);
    }
}

TEST(test_endpoint_url_empty_ip_literal_is_an_empty_host_w3_1) {
    const char *bad[] = {"http://[]", "http://[]/x", "http://[]:8001/", "https://[]:443"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        url_under_test = bad[i];
        if (init_with(set_url) != HONCH_STATUS_INVALID_ARGUMENT) check_fail(__FILE__, __LINE__, "accepted %s", bad[i]);
    }
    const char *good[] = {"http://[::1]", "http://[::1]/x", "https://[2001:db8::1]:443/base/"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        url_under_test = good[i];
        if (init_with(set_url) != HONCH_STATUS_OK) check_fail(__FILE__, __LINE__, "refused %s", good[i]);
    }
}

TEST(test_defaults_and_clamps_contract_4) {
    fake_reset();
    honch_config_t c = tc_config(1 << 16);
    c.batch_size = 51;
    c.transport_timeout_ms = 20000;
    c.max_transport_timeout_ms = HONCH_MICROPYTHON_MAX_TRANSPORT_TIMEOUT_MS;
    c.flush_retry_initial_ms = 5000;
    c.flush_retry_max_ms = 10;
    c.flush_event_threshold = 1000;
    CHECK_EQ(honch_init(&tc, &c), 0);
    honch_scheduler_state_t s;
    CHECK_EQ(honch_scheduler_state(&tc, &s), 0);
    CHECK_EQ(s.backoff_ms, 5000);
    CHECK_EQ(s.next_interval_at, 1000 + 120000); /* default interval */
    for (int i = 0; i < 59; i++) CHECK_EQ(tc_track("e", "@count u=1"), 0);
    unsigned first = fk.nreq;
    tc_flush(0);
    CHECK_EQ(fake_messages_since(first), 1); /* flush_max_batches default 1 */
    CHECK_EQ(tc_stats().queued_events, 10);  /* 60 - 50: batch_size 51 acts as 50 */
    CHECK_EQ(fake_requests[first].timeout_ms, 10000);
    /* flush_retry_max_ms below the initial delay is raised to it: the delay stays 5000 */
    fake_answer(500, NULL);
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_SERVER);
    honch_scheduler_state(&tc, &s);
    CHECK_EQ(s.backoff_ms, 5000);
}

TEST(test_track_validation_c12) {
    start_default();
    honch_queue_stats_t before = tc_stats();
    static char dsl[8192];
    const char *bad[] = {
        "@ s=x",          /* blank key */
        "@\t s=x",        /* blank key */
        "@state u=1",     /* reserved-name key needs a str */
        "@state a1 s=x e",
        "@k f=nan",
        "@k f=inf",
        "@k f=-inf",
        "@k a2 u=1 e",    /* count mismatch */
        "@k a1 u=1 u=2 e",
        "@k m1 @a u=1 @b u=2 e",
        "@k m1 @a e",     /* key without value */
        "@k",             /* key without value */
        "u=1",            /* value without key */
        "@k a9 a1 a1 a1 a1 a1 a1 a1 a1 u=1 e e e e e e e e",
        "@k a1 a1 a1 a1 a1 a1 a1 a1 a1 u=1 e e e e e e e e e", /* 9 nested containers */
        "@k m1 @a m1 @b m1 @c m1 @d m1 @e m1 @f m1 @g m1 @h u=1 e e e e e e e e e",
        "@k u=1 e",
        "@k zz",          /* a value of a type the port cannot map (emitter status) */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = tc_track("e", bad[i]);
        if (st != HONCH_STATUS_INVALID_ARGUMENT && !(i == sizeof bad / sizeof bad[0] - 1 && st == HONCH_STATUS_INTERNAL))
            check_fail(__FILE__, __LINE__, "accepted \"%s\" (%d)", bad[i], st);
    }
    /* 65 properties; 64 are fine */
    dsl[0] = 0;
    for (int i = 0; i < 65; i++) sprintf(dsl + strlen(dsl), "@p%d u=%d ", i, i);
    CHECK_EQ(tc_track("e", dsl), HONCH_STATUS_INVALID_ARGUMENT);
    honch_queue_stats_t after = tc_stats();
    CHECK(tc_stats_equal(&before, &after));
    *strrchr(dsl, '@') = 0;
    CHECK_EQ(tc_track("e", dsl), HONCH_STATUS_OK);
    /* names: blank, 129 bytes; 128 bytes fine; invalid UTF-8 */
    char name[130];
    memset(name, 'n', sizeof name);
    CHECK_EQ(honch_track(&tc, name, 129, NULL, NULL), HONCH_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(honch_track(&tc, name, 128, NULL, NULL), HONCH_STATUS_OK);
    CHECK_EQ(honch_track(&tc, " \n", 2, NULL, NULL), HONCH_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(honch_track(&tc, "", 0, NULL, NULL), HONCH_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(honch_track(&tc, "\xc3", 1, NULL, NULL), HONCH_STATUS_INVALID_ARGUMENT);
    /* 8 nested lists around a scalar are accepted, also mixed with maps */
    CHECK_EQ(tc_track("e", "@k a1 a1 a1 a1 a1 a1 a1 a1 u=1 e e e e e e e e"), HONCH_STATUS_OK);
    CHECK_EQ(tc_track("e", "@k m1 @a m1 @b m1 @c m1 @d a1 a1 a1 a1 s= e e e e e e e e"), HONCH_STATUS_OK);
    CHECK_EQ(tc_track("e", "@k i=-9223372036854775808 @u u=18446744073709551615 @f f=-0.0 @b b= @n n @t t @x F"),
             HONCH_STATUS_OK);
    const char *d = tc_flush(0);
    CHECK_CONTAINS(d, "\"e\" +0 {k: [[[[[[[[1]]]]]]]]}");
    CHECK_CONTAINS(d, "{k: {a: {b: {c: {d: [[[[\"\"]]]]}}}}}");
    CHECK_CONTAINS(d, "k: i-9223372036854775808, u: 18446744073709551615, f: f:-0, b: b:, n: null, t: true, x: false");
}

static int emit_raw(void *ctx, honch_writer_t *w) {
    const char *const *kv = ctx; /* key, key length as text, value */
    if (honch_w_key(w, kv[0], strtoul(kv[1], NULL, 10))) return 0;
    return honch_w_str(w, kv[2], strlen(kv[2]));
}

TEST(test_keys_with_nul_or_bad_utf8_and_bad_strings_are_refused) {
    start_default();
    honch_queue_stats_t before = tc_stats();
    const char *nul_key[] = {"a\0b", "3", "v"};
    const char *bad_key[] = {"a\xff", "2", "v"};
    const char *bad_val[] = {"k", "1", "\xed\xa0\x80"};
    CHECK_EQ(honch_track(&tc, "e", 1, emit_raw, (void *)nul_key), HONCH_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(honch_track(&tc, "e", 1, emit_raw, (void *)bad_key), HONCH_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(honch_track(&tc, "e", 1, emit_raw, (void *)bad_val), HONCH_STATUS_INVALID_ARGUMENT);
    honch_queue_stats_t after = tc_stats();
    CHECK(tc_stats_equal(&before, &after));
    const char *ok[] = {"k\xc3\xa9", "3", "v\xf0\x9f\x98\x80"};
    CHECK_EQ(honch_track(&tc, "e", 1, emit_raw, (void *)ok), HONCH_STATUS_OK);
}

TEST(test_reserved_keys_refused_at_any_depth_c13) {
    static const char *keys[] = {"$anon_distinct_id", "$battery_level", "distinct_id", "$device_id",
                                 "$device_model",     "$environment",   "$firmware_version", "$sdk_platform",
                                 "$sdk_version",      "$session_id",    "$wifi_rssi"};
    start_default();
    honch_queue_stats_t before = tc_stats();
    char dsl[256];
    for (int i = 0; i < 11; i++) {
        snprintf(dsl, sizeof dsl, "@%s s=x", keys[i]);
        CHECK_EQ(tc_track("e", dsl), HONCH_STATUS_INVALID_ARGUMENT);
        CHECK_EQ(honch_identify(&tc, "u", 1, emit_dsl, dsl), HONCH_STATUS_INVALID_ARGUMENT);
        snprintf(dsl, sizeof dsl, "@outer a1 m1 @%s s=x e e", keys[i]);
        CHECK_EQ(tc_track("e", dsl), HONCH_STATUS_INVALID_ARGUMENT);
        CHECK_EQ(honch_identify(&tc, "u", 1, emit_dsl, dsl), HONCH_STATUS_INVALID_ARGUMENT);
        CHECK_EQ(honch_set_property(&tc, keys[i], strlen(keys[i]), emit_dsl_value, "s=x"),
                 HONCH_STATUS_INVALID_ARGUMENT);
        CHECK_EQ(honch_set_property(&tc, "k", 1, emit_dsl_value, dsl + 7), HONCH_STATUS_INVALID_ARGUMENT);
    }
    honch_queue_stats_t after = tc_stats();
    CHECK(tc_stats_equal(&before, &after));
    /* keys that merely start with '$' are custom keys */
    CHECK_EQ(tc_track("e", "@$custom s=x"), HONCH_STATUS_OK);
}

TEST(test_reserved_name_keys_are_sent_as_reserved_ids) {
    start_default();
    CHECK_EQ(tc_track("e", "@state s=on @deep m1 @session_name s=walk e"), 0);
    CHECK_EQ(honch_set_property(&tc, "previous_version", 16, emit_dsl_value, "s=1"), 0);
    tc_flush(0);
    uint8_t m[4096];
    size_t n = fake_message(0, m);
    char hex[8200];
    check_hex(hex, m, n);
    /* key ref 08 (state) = string; map with key ref 0e (session_name) */
    CHECK_CONTAINS(hex, "0807");
    CHECK_CONTAINS(hex, "0a010e07");
    CHECK_CONTAINS(fake_dump(0), "{state: \"on\", deep: {session_name: \"walk\"}}");
    CHECK_CONTAINS(fake_dump(0), "\"$set_property\" +0 {previous_version: \"1\"}");
}

TEST(test_record_over_max_event_bytes_is_refused_c14) {
    fake_reset();
    honch_config_t c = tc_config(8192);
    c.max_event_bytes = 200;
    CHECK_EQ(honch_init(&tc, &c), 0);
    honch_queue_stats_t before = tc_stats();
    CHECK_EQ(tc_track("e", "@k s*300"), HONCH_STATUS_INVALID_ARGUMENT);
    honch_queue_stats_t after = tc_stats();
    CHECK(tc_stats_equal(&before, &after));
    CHECK_EQ(tc_track("e", "@k s*150"), HONCH_STATUS_OK);
}

/* Contract 2.3: P <= S <= P + 64 + 16·V for the record size S. */
TEST(test_record_size_bound_contract_2_3) {
    static const struct {
        const char *dsl;
        unsigned p; /* name "ev" + keys + strings + bytes */
        unsigned v;
    } cases[] = {
        {NULL, 2, 0},
        {"@a u=18446744073709551615", 3, 1},
        {"@a i=-9223372036854775808 @b f=1.5", 4, 2},
        {"@a s*300", 303, 1},
        {"@a B*1000", 1003, 1},
        {"@*200 n", 202, 1},
        {"@a a3 u=1 s=xy m1 @k b=01 e e", 7, 5},
        {"@a a1 a1 a1 a1 a1 a1 a1 a1 u=1 e e e e e e e e", 3, 9},
    };
    fake_reset();
    honch_config_t c = tc_config(1 << 16);
    CHECK_EQ(honch_init(&tc, &c), 0);
    /* a 256-byte distinct_id is kept once per identity change, not in every record */
    char id[256];
    memset(id, 'u', sizeof id);
    CHECK_EQ(honch_identify(&tc, id, sizeof id, NULL, NULL), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t before = tc_stats().queued_bytes;
        CHECK_EQ(tc_track("ev", cases[i].dsl), 0);
        uint64_t s = tc_stats().queued_bytes - before;
        if (s < cases[i].p || s > cases[i].p + 64 + 16 * cases[i].v)
            check_fail(__FILE__, __LINE__, "case %zu: S=%llu P=%u V=%u", i, (unsigned long long)s, cases[i].p, cases[i].v);
    }
}

TEST(test_identify_c45) {
    start_default();
    CHECK_EQ(honch_identify(&tc, "user-42", 7, emit_dsl, "@plan s=pro"), 0);
    CHECK_EQ(tc_track("after", NULL), 0);
    CHECK_EQ(honch_identify(&tc, "user-43", 7, NULL, NULL), 0);
    const char *d = tc_flush(0); /* boot, under device-1 */
    CHECK_CONTAINS(d, "distinct=device-1");
    CHECK_CONTAINS(d, "$device_boot");
    CHECK_LACKS(d, "$identify");
    d = tc_flush(0);
    CHECK_CONTAINS(d, "distinct=user-42");
    CHECK_CONTAINS(d, "\"$identify\" +0 {plan: \"pro\", $anon_distinct_id: \"device-1\"}\n\"after\"");
    d = tc_flush(0);
    CHECK_CONTAINS(d, "distinct=user-43");
    CHECK_CONTAINS(d, "{$anon_distinct_id: \"user-42\"}");
    /* traits: at most 63 */
    char dsl[2048] = "";
    for (int i = 0; i < 64; i++) sprintf(dsl + strlen(dsl), "@t%d u=1 ", i);
    CHECK_EQ(honch_identify(&tc, "u", 1, emit_dsl, dsl), HONCH_STATUS_INVALID_ARGUMENT);
    *strrchr(dsl, '@') = 0;
    CHECK_EQ(honch_identify(&tc, "u", 1, emit_dsl, dsl), HONCH_STATUS_OK);
    char id[257];
    memset(id, 'x', sizeof id);
    CHECK_EQ(honch_identify(&tc, id, 257, NULL, NULL), HONCH_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(honch_identify(&tc, " ", 1, NULL, NULL), HONCH_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(honch_identify(&tc, id, 256, NULL, NULL), HONCH_STATUS_OK);
}

TEST(test_identify_failure_keeps_the_previous_id) {
    fake_reset();
    fk.has_state = 1;
    honch_config_t c = tc_config(8192);
    c.max_event_bytes = 100;
    CHECK_EQ(honch_init(&tc, &c), 0);
    tc_flush(0);
    CHECK_EQ(honch_identify(&tc, "user-42", 7, emit_dsl, "@big s*200"), HONCH_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(fk.distinct_len, 0); /* nothing stored */
    fk.store_fails = 1;
    CHECK_EQ(honch_identify(&tc, "user-42", 7, NULL, NULL), HONCH_STATUS_IO);
    CHECK_EQ(tc_stats().queued_events, 0);
    fk.store_fails = 0;
    CHECK_EQ(tc_track("x", NULL), 0);
    CHECK_CONTAINS(tc_flush(0), "distinct=device-1");
}

TEST(test_identity_persists_on_hosts_with_state) {
    fake_reset();
    fk.has_state = 1;
    honch_config_t c = tc_config(8192);
    CHECK_EQ(honch_init(&tc, &c), 0);
    CHECK_EQ(honch_identify(&tc, "user-42", 7, NULL, NULL), 0);
    CHECK(fk.distinct_len == 7 && !memcmp(fk.distinct, "user-42", 7));
    CHECK_EQ(honch_shutdown(&tc, false), 0);
    c = tc_config(8192);
    CHECK_EQ(honch_init(&tc, &c), 0);
    CHECK_CONTAINS(tc_flush(0), "distinct=user-42");
    CHECK_EQ(honch_reset(&tc), 0);
    CHECK_EQ(fk.distinct_len, 0);
    CHECK_EQ(tc_track("x", NULL), 0);
    CHECK_CONTAINS(tc_flush(0), "distinct=device-1");
}

static void session_id_of(const char *dump, char *out) {
    const char *p = strstr(dump, "session=");
    CHECK(p != NULL);
    if (!p) return;
    p += 8;
    size_t n = strcspn(p, " ");
    memcpy(out, p, n);
    out[n] = 0;
}

static bool valid_session_id(const char *s) {
    if (strlen(s) != 37 || strncmp(s, "sess_", 5)) return false;
    for (int i = 5; i < 37; i++)
        if (!strchr("0123456789abcdef", s[i])) return false;
    return true;
}

TEST(test_sessions_c46) {
    start_default();
    tc_flush(0);
    CHECK_EQ(honch_session_end(&tc), 0); /* no session: nothing */
    CHECK_EQ(tc_stats().queued_events, 0);
    CHECK_EQ(honch_session_start(&tc, "walk", 4), 0);
    CHECK_EQ(tc_track("step", NULL), 0);
    const char *d = tc_flush(0);
    char s1[64], s2[64];
    session_id_of(d, s1);
    CHECK(valid_session_id(s1));
    CHECK_CONTAINS(d, "\"$session_start\" +0 {session_name: \"walk\"}\n\"step\"");
    CHECK_EQ(honch_session_start(&tc, NULL, 0), 0);
    d = tc_flush(0);
    CHECK_CONTAINS(d, s1);
    CHECK_CONTAINS(d, "\"$session_end\" +0 {}\n");
    CHECK_LACKS(d, "$session_start");
    d = tc_flush(0);
    session_id_of(d, s2);
    CHECK(valid_session_id(s2) && strcmp(s1, s2) != 0);
    CHECK_CONTAINS(d, "\"$session_start\" +0 {}\n");
    CHECK_EQ(honch_session_end(&tc), 0);
    CHECK_EQ(tc_track("later", NULL), 0);
    d = tc_flush(0);
    CHECK_CONTAINS(d, s2); /* $session_end still carries the session */
    CHECK_CONTAINS(d, "\"$session_end\" +0 {}\n");
    CHECK_LACKS(d, "later");
    CHECK_CONTAINS(tc_flush(0), "session=- ");
    /* a blank name counts as none; invalid UTF-8 is refused */
    CHECK_EQ(honch_session_start(&tc, "\xff", 1), HONCH_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(honch_session_start(&tc, "  ", 2), 0);
    CHECK_CONTAINS(tc_flush(0), "\"$session_start\" +0 {}");
}

TEST(test_session_start_failure_restores_the_old_session) {
    fake_reset();
    honch_config_t c = tc_config(8192);
    c.max_event_bytes = 60;
    CHECK_EQ(honch_init(&tc, &c), 0);
    tc_flush(0);
    CHECK_EQ(honch_session_start(&tc, "a", 1), 0);
    char sid[64];
    session_id_of(tc_flush(0), sid);
    char name[100];
    memset(name, 'n', sizeof name);
    CHECK_EQ(honch_session_start(&tc, name, sizeof name), HONCH_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(tc_stats().queued_events, 0); /* not even the $session_end */
    CHECK_EQ(tc_track("x", NULL), 0);
    CHECK_CONTAINS(tc_flush(0), sid);
}

TEST(test_set_property_and_device_id_c47) {
    start_default();
    CHECK_EQ(honch_set_property(&tc, "color", 5, emit_dsl_value, "s=red"), 0);
    CHECK_EQ(honch_set_property(&tc, "tags", 4, emit_dsl_value, "a2 u=1 m1 @x n e e"), 0);
    CHECK_EQ(honch_set_property(&tc, "", 0, emit_dsl_value, "s=red"), HONCH_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(honch_set_property(&tc, "k", 1, emit_dsl_value, ""), HONCH_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(honch_set_property(&tc, "k", 1, emit_dsl_value, "u=1 u=2"), HONCH_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(honch_set_property(&tc, "k", 1, NULL, NULL), HONCH_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(honch_set_property(&tc, "state", 5, emit_dsl_value, "u=1"), HONCH_STATUS_INVALID_ARGUMENT);
    const char *d = tc_flush(0);
    CHECK_CONTAINS(d, "\"$set_property\" +0 {color: \"red\"}\n\"$set_property\" +0 {tags: [1, {x: null}]}");
    const char *id;
    size_t n;
    CHECK_EQ(honch_get_device_id(&tc, &id, &n), 0);
    CHECK(n == 8 && !memcmp(id, "device-1", 8));
}

TEST(test_error_coalescing_c36) {
    start_default();
    tc_flush(0);
    for (int i = 0; i < 3; i++) CHECK_EQ(honch_report_log_error(&tc, "disk full", 9, "storage", 7), 0);
    CHECK_EQ(honch_report_log_error(&tc, "boom", 4, NULL, 0), 0);
    CHECK_EQ(honch_report_log_error(&tc, "ignored", 7, "honch", 5), 0);
    CHECK_EQ(honch_report_log_error(&tc, " ", 1, NULL, 0), HONCH_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(honch_report_log_error(&tc, "bad\xff", 4, NULL, 0), HONCH_STATUS_INVALID_ARGUMENT);
    CHECK_EQ(tc_stats().queued_events, 0); /* slots, not the queue */
    CHECK_EQ(honch_tick(&tc, false), 0);   /* drained even offline */
    CHECK_EQ(tc_stats().queued_events, 2);
    const char *d = tc_flush(0);
    CHECK_CONTAINS(d, "\"$error\" +0 {level: \"error\", component: \"storage\", message: \"disk full\", count: 3}\n"
                      "\"$error\" +0 {level: \"error\", message: \"boom\", count: 1}\n");
    /* a fifth distinct key is dropped and reported on the first drained event */
    const char *msgs[] = {"a", "b", "c", "d", "e", "f"};
    for (int i = 0; i < 6; i++) CHECK_EQ(honch_report_log_error(&tc, msgs[i], 1, "  ", 2), 0);
    d = tc_flush(0);
    CHECK_CONTAINS(d, "{level: \"error\", message: \"a\", count: 1, dropped: 2}\n");
    CHECK_CONTAINS(d, "{level: \"error\", message: \"d\", count: 1}\n");
    CHECK_LACKS(d, "\"e\"");
    /* cuts: component to 32 bytes, message to 128, on character boundaries */
    char msg[300], comp[60];
    memset(msg, 'm', sizeof msg);
    memcpy(msg + 126, "\xc3\xa9", 2); /* é across the 128-byte cut */
    memset(comp, 'c', sizeof comp);
    memcpy(comp + 31, "\xe2\x82\xac", 3); /* € across the 32-byte cut */
    CHECK_EQ(honch_report_log_error(&tc, msg, sizeof msg, comp, sizeof comp), 0);
    msg[200] = 'X'; /* differs only beyond the cut: same slot */
    CHECK_EQ(honch_report_log_error(&tc, msg, sizeof msg, comp, sizeof comp), 0);
    d = tc_flush(0);
    char want[400];
    snprintf(want, sizeof want, "component: \"%.31s\", message: \"%.126s\xc3\xa9\", count: 2}", comp, msg);
    CHECK_CONTAINS(d, want);
}

TEST(test_error_events_carry_no_battery_or_auto_properties) {
    fake_reset();
    fk.has_battery = 1;
    fk.battery = 5;
    honch_config_t c = tc_config(8192);
    CHECK_EQ(honch_init(&tc, &c), 0);
    tc_flush(0);
    unsigned calls = fk.battery_calls;
    CHECK_EQ(honch_report_log_error(&tc, "x", 1, NULL, 0), 0);
    const char *d = tc_flush(0);
    CHECK_CONTAINS(d, "\"$error\" +0 {level: \"error\", message: \"x\", count: 1}\n");
    CHECK_LACKS(d, "battery");
    CHECK_EQ(fk.battery_calls, calls);
}

TEST(test_crash_report_c32_c33) {
    start_default();
    tc_flush(0);
    honch_crash_report_t r;
    memset(&r, 0, sizeof r);
    *honch_crash_report_field(&r, "source", 6) = (honch_str_t){"exception", 9};
    *honch_crash_report_field(&r, "severity", 8) = (honch_str_t){"fatal", 5};
    *honch_crash_report_field(&r, "exception_cause", 15) = (honch_str_t){"ValueError", 10};
    *honch_crash_report_field(&r, "message", 7) = (honch_str_t){"bad value", 9};
    *honch_crash_report_field(&r, "backtrace", 9) = (honch_str_t){"app.py:12 in f <- main.py:4 in <module>", 39};
    CHECK(honch_crash_report_field(&r, "summary_version", 15) == NULL);
    CHECK(honch_crash_report_field(&r, "nope", 4) == NULL);
    CHECK_EQ(honch_report_crash(&tc, &r), 0);
    CHECK_EQ(honch_report_crash(&tc, &r), 0); /* once per life */
    CHECK_EQ(tc_stats().queued_events, 1);
    const char *d = tc_flush(0);
    CHECK_CONTAINS(d, "\"$crash\" +0 {source: \"exception\", severity: \"fatal\", message: \"bad value\", "
                      "exception_cause: \"ValueError\", backtrace: \"app.py:12 in f <- main.py:4 in <module>\", "
                      "crash_id: \"");
    const char *id = strstr(d, "crash_id: \"") + 11;
    for (int i = 0; i < 32; i++) CHECK(strchr("0123456789abcdef", id[i]) != NULL);
    CHECK_EQ(id[32], '"');
}

#define MSG160 "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm" \
               "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"

TEST(test_crash_property_table_contract_11_4) {
    start_default();
    tc_flush(0);
    char bt[193], longmsg[161];
    memset(bt, 'b', sizeof bt);
    memset(longmsg, 'm', sizeof longmsg);
    honch_crash_report_t r;
    memset(&r, 0, sizeof r);
    r.source = (honch_str_t){"meteor", 6};           /* not in the list */
    r.severity = (honch_str_t){"catastrophic", 12};  /* unknown -> fatal */
    r.reset_reason = (honch_str_t){"watchdog", 8};
    r.message = (honch_str_t){longmsg, 161};         /* an exception's message: cut to 160 */
    r.component = (honch_str_t){"  ", 2};            /* blank: left out */
    r.firmware_build_id = (honch_str_t){"b-1", 3};
    r.fault_pc = (honch_str_t){"0x0800123456789abc", 18};
    r.fault_addr = (honch_str_t){"0x0800123456789abcd", 19}; /* too long */
    r.backtrace = (honch_str_t){bt, 193};            /* too long */
    r.task_name = (honch_str_t){"main", 4};
    r.crash_id = (honch_str_t){"0123456789abcdef0123456789abcdef", 32};
    r.summary_version = 3;
    r.coredump_available = true;
    CHECK_EQ(honch_report_crash(&tc, &r), 0);
    CHECK_CONTAINS(tc_flush(0), "\"$crash\" +0 {source: \"unknown\", severity: \"fatal\", reset_reason: \"watchdog\", "
                                "summary_version: 3, message: \"" MSG160 "\", firmware_build_id: \"b-1\", "
                                "fault_pc: \"0x0800123456789abc\", task_name: \"main\", coredump_available: true, "
                                "crash_id: \"0123456789abcdef0123456789abcdef\"}");
}

TEST(test_reported_crash_in_the_published_wrappers_shape) {
    /* honch-micropython 0.3.1 reports {"message", "type", "backtrace"}: "type" is the
     * exception_cause, source becomes "exception", a long message is cut on a
     * character boundary (11.4, Python exceptions). */
    start_default();
    tc_flush(0);
    char msg[170];
    memset(msg, 'a', 159);
    memcpy(msg + 159, "\xc3\xa9zzzzzzzzz", 11); /* an 2-byte character across byte 160 */
    honch_crash_report_t r;
    memset(&r, 0, sizeof r);
    *honch_crash_report_field(&r, "type", 4) = (honch_str_t){"ValueError", 10};
    r.message = (honch_str_t){msg, 170};
    CHECK_EQ(honch_report_crash(&tc, &r), 0);
    const char *d = tc_flush(0);
    CHECK_CONTAINS(d, "{source: \"exception\", severity: \"fatal\", message: \"");
    CHECK_CONTAINS(d, "aaaa\", exception_cause: \"ValueError\", crash_id: ");
}

TEST(test_crash_report_at_construction) {
    fake_reset();
    honch_config_t c = tc_config(8192);
    honch_crash_report_t r;
    memset(&r, 0, sizeof r);
    r.source = (honch_str_t){"watchdog", 8};
    r.reset_reason = (honch_str_t){"task_wdt", 8};
    c.crash_report = &r;
    c.reset_reason = (honch_str_t){"power_on", 8};
    CHECK_EQ(honch_init(&tc, &c), 0);
    CHECK_EQ(tc_stats().queued_events, 2);
    const char *d = tc_flush(0);
    CHECK_CONTAINS(d, "\"$device_boot\" +0 {reset_reason: \"task_wdt\"}\n\"$crash\" +0 {source: \"watchdog\", "
                      "severity: \"fatal\", reset_reason: \"task_wdt\", crash_id: ");
    CHECK_EQ(honch_report_crash(&tc, &r), 0); /* the boot crash used this life's $crash */
    CHECK_EQ(tc_stats().queued_events, 0);
    /* without a crash report, the port's reset reason */
    fake_reset();
    c = tc_config(8192);
    c.reset_reason = (honch_str_t){"power_on", 8};
    CHECK_EQ(honch_init(&tc, &c), 0);
    CHECK_CONTAINS(tc_flush(0), "{reset_reason: \"power_on\"}");
}

TEST(test_firmware_update_c8) {
    fake_reset();
    fk.has_state = 1;
    memcpy(fk.fw, "0.9.0", 5);
    fk.fw_len = 5;
    honch_config_t c = tc_config(8192);
    CHECK_EQ(honch_init(&tc, &c), 0);
    CHECK(fk.fw_len == 5 && !memcmp(fk.fw, "1.0.0", 5));
    CHECK_CONTAINS(tc_flush(0), "\"$firmware_update\" +0 {previous_version: \"0.9.0\", new_version: \"1.0.0\"}\n"
                                "\"$device_boot\" +0 {reset_reason: \"unknown\"}\n");
    CHECK_EQ(honch_shutdown(&tc, false), 0);
    c = tc_config(8192);
    CHECK_EQ(honch_init(&tc, &c), 0);
    CHECK_EQ(tc_stats().queued_events, 1); /* same version: $device_boot only */
    /* a state store failure fails construction and leaves the client closed */
    fk.store_fails = 1;
    c = tc_config(8192);
    CHECK_EQ(honch_init(&tc, &c), HONCH_STATUS_IO);
    CHECK_EQ(tc_track("x", NULL), HONCH_STATUS_NOT_INITIALIZED);
}

TEST(test_buffer_too_small_for_device_boot_fails_construction) {
    fake_reset();
    honch_config_t c = tc_config(10);
    CHECK_EQ(honch_init(&tc, &c), HONCH_STATUS_QUEUE_FULL);
    honch_queue_stats_t s;
    CHECK_EQ(honch_queue_stats(&tc, &s), HONCH_STATUS_NOT_INITIALIZED);
    CHECK_STR(honch_stream_id(&tc), "");
}

TEST(test_battery_level_and_low_latch_c48) {
    fake_reset();
    fk.has_battery = 1;
    fk.battery = 50;
    honch_config_t c = tc_config(8192);
    CHECK_EQ(honch_init(&tc, &c), 0);
    CHECK_EQ(tc_track("a", NULL), 0);
    fk.battery = 10;
    CHECK_EQ(tc_track("b", NULL), 0);
    CHECK_EQ(tc_track("c", NULL), 0); /* latched: no second $battery_low */
    fk.battery = 15;                   /* at the threshold: clears */
    CHECK_EQ(tc_track("d", NULL), 0);
    fk.battery = 14;
    CHECK_EQ(tc_track("e", NULL), 0);
    fk.battery = -1; /* unknown: not stamped */
    CHECK_EQ(tc_track("f", NULL), 0);
    fk.battery = 101; /* out of range: unknown */
    CHECK_EQ(tc_track("g", NULL), 0);
    fk.battery = 5;
    CHECK_EQ(honch_identify(&tc, "u", 1, NULL, NULL), 0); /* stamped, no check */
    const char *d = tc_flush(0);
    CHECK_STR(strchr(d, '\n') + 1,
              "\"$device_boot\" +0 {reset_reason: \"unknown\", $battery_level: i50}\n"
              "\"a\" +0 {$battery_level: i50}\n"
              "\"b\" +0 {$battery_level: i10}\n"
              "\"$battery_low\" +0 {level: 10, $battery_level: i10}\n"
              "\"c\" +0 {$battery_level: i10}\n"
              "\"d\" +0 {$battery_level: i15}\n"
              "\"e\" +0 {$battery_level: i14}\n"
              "\"$battery_low\" +0 {level: 14, $battery_level: i14}\n"
              "\"f\" +0 {}\n"
              "\"g\" +0 {}\n");
    CHECK_CONTAINS(tc_flush(0), "\"$identify\" +0 {$anon_distinct_id: \"device-1\", $battery_level: i5}\n");
    /* reset clears the latch */
    CHECK_EQ(tc_track("h", NULL), 0);
    CHECK_EQ(honch_reset(&tc), 0);
    CHECK_EQ(tc_track("i", NULL), 0);
    CHECK_CONTAINS(tc_flush(0), "\"$battery_low\" +0 {level: 5");
}

TEST(test_connectivity_changed_c31) {
    start_default();
    tc_flush(0);
    unsigned first = fk.nreq;
    CHECK_EQ(honch_connectivity_changed(&tc, true), 0);
    CHECK_EQ(honch_connectivity_changed(&tc, true), 0); /* unchanged: nothing */
    CHECK_EQ(fk.nreq, first);                           /* no I/O in the call */
    honch_scheduler_state_t s;
    honch_scheduler_state(&tc, &s);
    CHECK(s.flush_requested);
    CHECK_EQ(honch_tick(&tc, true), 0); /* below the threshold, yet due */
    CHECK_EQ(fk.nreq, first + 1);
    while (tc_stats().queued_events && fk.nreq < first + 20) honch_tick(&tc, true); /* small-F builds */
    CHECK_CONTAINS(fake_dump(first), "\"$connectivity_change\" +0 {state: \"connected\"}\n");
    CHECK_EQ(honch_connectivity_changed(&tc, false), 0);
    CHECK_EQ(honch_connectivity_changed(&tc, false), 0);
    honch_scheduler_state(&tc, &s);
    CHECK(!s.flush_requested);
    CHECK_EQ(tc_stats().queued_events, 1);
    CHECK_CONTAINS(tc_flush(0), "{state: \"disconnected\"}");
}

TEST(test_reset_c10) {
    start_default();
    CHECK_EQ(honch_identify(&tc, "user-1", 6, NULL, NULL), 0);
    CHECK_EQ(honch_session_start(&tc, NULL, 0), 0);
    CHECK_EQ(tc_track("x", NULL), 0);
    honch_queue_stats_t before = tc_stats();
    char stream[9];
    strcpy(stream, honch_stream_id(&tc));
    CHECK_EQ(honch_reset(&tc), 0);
    honch_queue_stats_t after = tc_stats();
    CHECK_EQ(after.queued_events, 0);
    CHECK_EQ(after.queued_bytes, 0);
    CHECK_EQ(after.high_water_events, before.high_water_events);
    CHECK_EQ(fk.nreq, 0);
    CHECK_STR(honch_stream_id(&tc), stream);
    CHECK_EQ(tc_track("y", NULL), 0);
    const char *d = tc_flush(0);
    CHECK_CONTAINS(d, "distinct=device-1 session=- ");
    CHECK_LACKS(d, "$session_end");
    CHECK_CONTAINS(d, "\"y\" +0 {}\n");
}

static int auto_props(void *ctx, honch_writer_t *w) {
    (void)ctx;
    honch_w_key(w, "app", 3);
    honch_w_str(w, "demo", 4);
    honch_w_key(w, "build", 5);
    return honch_w_uint(w, 7);
}

static int auto_props_reserved(void *ctx, honch_writer_t *w) {
    (void)ctx;
    honch_w_key(w, "$device_id", 10);
    return honch_w_str(w, "x", 1);
}

TEST(test_auto_properties_the_caller_wins) {
    fake_reset();
    fk.auto_props = auto_props;
    honch_config_t c = tc_config(8192);
    CHECK_EQ(honch_init(&tc, &c), 0);
    CHECK_EQ(tc_track("t", "@app s=mine @n u=1"), 0);
    CHECK_EQ(honch_report_log_error(&tc, "e", 1, NULL, 0), 0);
    const char *d = tc_flush(0);
    CHECK_CONTAINS(d, "\"$device_boot\" +0 {reset_reason: \"unknown\", app: \"demo\", build: 7}\n");
    CHECK_CONTAINS(d, "\"t\" +0 {app: \"mine\", n: 1, build: 7}\n");
    CHECK_CONTAINS(d, "\"$error\" +0 {level: \"error\", message: \"e\", count: 1}\n");
    /* the 64-property limit counts the auto properties */
    char dsl[2048] = "";
    for (int i = 0; i < 63; i++) sprintf(dsl + strlen(dsl), "@p%d u=1 ", i);
    CHECK_EQ(tc_track("t", dsl), HONCH_STATUS_INVALID_ARGUMENT);
    fk.auto_props = auto_props_reserved;
    CHECK_EQ(tc_track("t", NULL), HONCH_STATUS_INVALID_ARGUMENT);
}

static int emit_flush_inside(void *ctx, honch_writer_t *w) {
    (void)ctx;
    fk.hook_status = honch_flush(&tc, true);
    honch_w_key(w, "k", 1);
    return honch_w_uint(w, (uint64_t)tc_track("nested", NULL));
}

TEST(test_calls_from_inside_an_emitter_are_busy) {
    start_default();
    CHECK_EQ(tc_track("outer", NULL), 0);
    CHECK_EQ(honch_track(&tc, "e", 1, emit_flush_inside, NULL), 0);
    CHECK_EQ(fk.hook_status, HONCH_STATUS_BUSY);
    CHECK_CONTAINS(tc_flush(0), "\"e\" +0 {k: 13}"); /* the nested track got BUSY (13) */
}

TEST(test_timestamps_and_device_time_source_contract_5_c7) {
    /* valid wall clock: stamps are wall time, source 1 */
    fake_reset();
    fk.wall = 1700000000000ull;
    honch_config_t c = tc_config(8192);
    CHECK_EQ(honch_init(&tc, &c), 0);
    fk.wall += 25;
    CHECK_EQ(tc_track("x", NULL), 0);
    CHECK_CONTAINS(tc_flush(0), "base=1700000000000 dts=1 ");
    CHECK_CONTAINS(fake_dump(0), "\"x\" +25 {}");
    /* no wall clock at all: boot-relative stamps, source 0 */
    fake_reset();
    c = tc_config(8192);
    CHECK_EQ(honch_init(&tc, &c), 0);
    CHECK_CONTAINS(tc_flush(0), "base=1000 dts=0 ");
    /* wall clock valid by the time of the upload: rebased with the boot epoch, source 2 */
    fake_reset();
    fk.now = 5000;
    c = tc_config(8192);
    CHECK_EQ(honch_init(&tc, &c), 0);
    fk.now = 6000;
    CHECK_EQ(tc_track("y", NULL), 0);
    fk.now = 10000;
    fk.wall = 1700000010000ull; /* boot epoch 1700000000000 */
    CHECK_EQ(tc_track("z", NULL), 0);
    const char *d = tc_flush(0);
    CHECK_CONTAINS(d, "base=1700000005000 dts=2 ");
    CHECK_CONTAINS(d, "\"y\" +1000 {}\n\"z\" +5000 {}\n");
    /* a monotonic clock at 0 stamps 1 */
    fake_reset();
    fk.now = 0;
    c = tc_config(8192);
    CHECK_EQ(honch_init(&tc, &c), 0);
    CHECK_CONTAINS(tc_flush(0), "base=1 dts=0 ");
}

TEST(test_api_on_a_closed_client) {
    start_default();
    CHECK_EQ(honch_shutdown(&tc, false), 0);
    CHECK_EQ(tc_track("x", NULL), HONCH_STATUS_NOT_INITIALIZED);
    CHECK_EQ(honch_identify(&tc, "u", 1, NULL, NULL), HONCH_STATUS_NOT_INITIALIZED);
    CHECK_EQ(honch_set_property(&tc, "k", 1, emit_dsl_value, "n"), HONCH_STATUS_NOT_INITIALIZED);
    CHECK_EQ(honch_session_start(&tc, NULL, 0), HONCH_STATUS_NOT_INITIALIZED);
    CHECK_EQ(honch_session_end(&tc), HONCH_STATUS_NOT_INITIALIZED);
    CHECK_EQ(honch_report_log_error(&tc, "m", 1, NULL, 0), HONCH_STATUS_NOT_INITIALIZED);
    honch_crash_report_t r;
    memset(&r, 0, sizeof r);
    CHECK_EQ(honch_report_crash(&tc, &r), HONCH_STATUS_NOT_INITIALIZED);
    CHECK_EQ(honch_connectivity_changed(&tc, true), HONCH_STATUS_NOT_INITIALIZED);
    CHECK_EQ(honch_tick(&tc, true), HONCH_STATUS_NOT_INITIALIZED);
    CHECK_EQ(honch_flush(&tc, true), HONCH_STATUS_NOT_INITIALIZED);
    CHECK_EQ(honch_reset(&tc), HONCH_STATUS_NOT_INITIALIZED);
    const char *id;
    size_t n;
    CHECK_EQ(honch_get_device_id(&tc, &id, &n), HONCH_STATUS_NOT_INITIALIZED);
    honch_queue_stats_t s;
    CHECK_EQ(honch_queue_stats(&tc, &s), HONCH_STATUS_NOT_INITIALIZED);
    CHECK_EQ(honch_shutdown(&tc, true), HONCH_STATUS_OK);
    CHECK_EQ(fk.nreq, 0);
    /* zeroed memory is a closed client too */
    static honch_client_t zero;
    CHECK_EQ(honch_track(&zero, "x", 1, NULL, NULL), HONCH_STATUS_NOT_INITIALIZED);
    CHECK_EQ(honch_shutdown(&zero, true), HONCH_STATUS_OK);
}
