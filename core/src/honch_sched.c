/*
 * The scheduler (contract 7), the response policy (contract 8), backoff and
 * Retry-After (contract 9), message formation (6.3) and frame sending (W5.6).
 */
#include "honch_internal.h"

/* --- contract 9 ------------------------------------------------------------ */

static bool ows(char ch) { return ch == ' ' || ch == '\t'; }

static int digits(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (negative before). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT", into *ms (may be negative
 * before 1970); false when malformed or naming a day its month does not have. */
static bool imf_fixdate_ms(const char *s, size_t n, int64_t *ms) {
    static const char days[] = "MonTueWedThuFriSatSun";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    static const uint8_t month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int wd = -1, mon = -1;
    if (n != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
        s[22] != ':' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
        return false;
    for (int i = 0; i < 7; i++)
        if (memcmp(s, days + 3 * i, 3) == 0) wd = i;
    for (int i = 0; i < 12; i++)
        if (memcmp(s + 8, months + 3 * i, 3) == 0) mon = i + 1;
    int day = digits(s + 5, 2), year = digits(s + 12, 4), h = digits(s + 17, 2), mi = digits(s + 20, 2),
        sec = digits(s + 23, 2);
    if (wd < 0 || mon < 0 || year < 0 || day < 1 || day > month_days[mon - 1] ||
        (mon == 2 && day == 29 && !leap(year)) || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
        return false;
    *ms = ((days_from_civil(year, mon, day) * 24 + h) * 60 + mi) * 60000 + (int64_t)sec * 1000;
    return true;
}

uint32_t hc_retry_after_ms(const char *v, size_t n, uint64_t wall_ms) {
    if (!v) return 0;
    while (n && ows(v[0])) v++, n--;
    while (n && ows(v[n - 1])) n--;
    if (!n) return 0;
    uint64_t secs = 0;
    size_t i = 0;
    while (i < n && v[i] >= '0' && v[i] <= '9') {
        secs = secs * 10 + (uint64_t)(v[i] - '0');
        if (secs > HONCH_U32_MAX) secs = HONCH_U32_MAX; /* saturate; stays saturated */
        i++;
    }
    if (i == n) return secs * 1000 > HONCH_U32_MAX ? HONCH_U32_MAX : (uint32_t)(secs * 1000);
    int64_t date;
    if (!imf_fixdate_ms(v, n, &date)) return 0;
    if (wall_ms < HONCH_VALID_WALL_CLOCK_MS) return HONCH_RETRY_AFTER_UNKNOWN_WALL_CLOCK_MS;
    if (date <= 0 || (uint64_t)date <= wall_ms) return 0;
    uint64_t d = (uint64_t)date - wall_ms;
    return d > HONCH_U32_MAX ? HONCH_U32_MAX : (uint32_t)d;
}

uint64_t hc_backoff(uint32_t *b, uint32_t max_ms, uint64_t now, uint32_t retry_after_ms) {
    uint32_t q = *b / 4;
    uint64_t wait = (uint64_t)(*b - q) + now % (2ull * q + 1);
    if (wait < retry_after_ms) wait = retry_after_ms;
    uint64_t grown = 2ull * *b;
    *b = grown > max_ms ? max_ms : (uint32_t)grown;
    return hc_add_sat(now, wait);
}

/* --- contract 8 ------------------------------------------------------------ */

int hc_classify(const honch_response_t *r, bool final_frame) {
    int s = r->http_status;
    if (r->outcome == HONCH_POST_TIMEOUT) return HONCH_STATUS_TIMEOUT;
    if (r->outcome != HONCH_POST_HTTP) return HONCH_STATUS_TRANSPORT;
    if (s >= 200 && s < 300)
        return (s == 202) != final_frame ? HONCH_STATUS_OK : HONCH_STATUS_TRANSPORT;
    if (s == 408) return HONCH_STATUS_TIMEOUT;
    if (s == 429) return HONCH_STATUS_RATE_LIMITED;
    if (s >= 500 && s < 600) return HONCH_STATUS_SERVER;
    if (s >= 400 && s < 500 && s != 409) return HONCH_STATUS_REJECTED;
    return HONCH_STATUS_TRANSPORT; /* 409, 1xx, 3xx, anything else */
}

/* --- the most recent failure (honch_last_error) ------------------------------ */

static const struct {
    uint16_t http;
    const char *reason;
} http_reasons[] = {
    {400, HONCH_REASON_BAD_REQUEST},      {401, HONCH_REASON_AUTH_INVALID_KEY},
    {403, HONCH_REASON_FORBIDDEN},        {404, HONCH_REASON_NOT_FOUND},
    {408, HONCH_REASON_REQUEST_TIMEOUT},  {409, HONCH_REASON_CONFLICT},
    {413, HONCH_REASON_PAYLOAD_TOO_LARGE}, {415, HONCH_REASON_UNSUPPORTED_MEDIA_TYPE},
    {422, HONCH_REASON_UNPROCESSABLE},    {429, HONCH_REASON_RATE_LIMITED},
};

static const char *http_reason(int st, int http) {
    for (unsigned i = 0; i < sizeof http_reasons / sizeof http_reasons[0]; i++)
        if (http_reasons[i].http == http) return http_reasons[i].reason;
    if (st == HONCH_STATUS_SERVER) return HONCH_REASON_SERVER_ERROR;
    if (st == HONCH_STATUS_REJECTED) return HONCH_REASON_REJECTED;
    return HONCH_REASON_UNEXPECTED_STATUS;
}

/* A failure the scheduler found; the port's honch_note_error keeps it (le_fresh). */
static void note(hc_client_t *c, int st, const char *reason, const char *component, int http, int os_error,
                 const char *message) {
    hc_note(c, st, reason, component, http, os_error, message, hc_cstr_len(message));
    c->le_fresh = 1;
}

static void note_outcome(hc_client_t *c, int st, const honch_response_t *r) {
    if (r->outcome == HONCH_POST_HTTP)
        note(c, st, http_reason(st, r->http_status), HONCH_COMPONENT_SERVER, r->http_status, 0,
             r->http_status == 401 ? "capture refused the project key" : NULL);
    else if (r->outcome == HONCH_POST_TIMEOUT)
        note(c, st, HONCH_REASON_TIMEOUT, HONCH_COMPONENT_TRANSPORT, 0, r->os_error,
             "no answer within transport_timeout_ms");
    else
        note(c, st, HONCH_REASON_CONNECTION_FAILED, HONCH_COMPONENT_TRANSPORT, 0, r->os_error,
             "the request failed before an answer arrived");
}

/* --- messages and frames ------------------------------------------------------ */

static void say(hc_client_t *c, const char *msg) {
    if (c->plat.log) c->plat.log(c->plat.ctx, msg);
}

static bool pending_work(const hc_client_t *c) { return c->queued_events || c->msg_active; }

static bool spacing_blocks(const hc_client_t *c, uint64_t now) {
    return c->min_interval_ms != HONCH_SPACING_DISABLED && now < c->next_outbound_at;
}

static void dead_letter_message(hc_client_t *c) {
    if (c->msg_active) c->dead_lettered += hc_q_remove_through(c, c->msg_last_seq);
    c->msg_active = 0;
}

int hc_form_message(hc_client_t *c) {
    const uint8_t *recs[HONCH_MAX_EVENTS_PER_MESSAGE];
    hc_ident_t head, m;
    hc_msg_ctx_t ctx;
    uint32_t n = 0, off = c->ring.head;
    hc_q_head_ident(c, &head);
    for (uint32_t i = 0; i < c->ring.nrec && n < c->batch_size; i++, off = hc_q_next(c, off)) {
        const uint8_t *rec = c->buf + off;
        if (rec[0] == HC_REC_MARKER) {
            hc_marker_read(rec, &m);
            if (!hc_ident_eq(&m, &head)) break; /* 6.3 step 2: identity or session changes */
            continue;
        }
        recs[n++] = rec;
    }
    ctx.strings[0].ptr = head.distinct;
    ctx.strings[0].len = head.distinct_len;
    ctx.strings[1] = c->device_id;
    ctx.strings[2] = c->device_model;
    ctx.strings[3] = c->firmware_version;
    ctx.strings[4] = c->sdk_platform;
    ctx.strings[5].ptr = HONCH_SDK_VERSION;
    ctx.strings[5].len = sizeof(HONCH_SDK_VERSION) - 1;
    ctx.strings[6] = c->environment;
    ctx.strings[7].ptr = head.session;
    ctx.strings[7].len = head.session ? HONCH_SESSION_ID_CHARS : 0;
    ctx.time_source = HC_TS_AUTO;
    ctx.base_time = 0;
    ctx.now = c->plat.monotonic_ms(c->plat.ctx);
    ctx.wall = c->plat.wall_ms(c->plat.ctx);
    ctx.max_events = c->batch_size;
    uint32_t k = n ? hc_encode(&ctx, recs, n, c->msg, &c->msg_start, &c->msg_len) : 0;
    if (k == 0) {
        /* 6.3 step 4: not even the first event fits a message alone. */
        hc_q_pop(c, false);
        c->dead_lettered++;
        say(c, "honch: an event too large to encode alone was dead-lettered");
        note(c, HONCH_STATUS_REJECTED, HONCH_REASON_UNDELIVERABLE, HONCH_COMPONENT_QUEUE, 0, 0,
             "an event too large to encode alone was dead-lettered");
        return HONCH_STATUS_REJECTED;
    }
    uint16_t crc = hc_crc16(HC_CRC_INIT, c->msg + c->msg_start, c->msg_len);
    c->crc_le[0] = (uint8_t)crc;
    c->crc_le[1] = (uint8_t)(crc >> 8);
    c->msg_active = 1;
    c->msg_events = k;
    c->msg_first_seq = c->head_seq;
    c->msg_last_seq = c->head_seq + k - 1;
    c->msg_id = c->seed + (uint32_t)c->msg_first_seq; /* W3.4, mod 2^32 */
    c->msg_next = 0;
    if (!hc_frames_fit(c->msg_len, c->msg_id, HONCH_MAX_FRAME)) {
        /* W5.5: an encoding failure; the caller dead-letters the message without a request. */
        say(c, "honch: a message the frame limit cannot carry was dead-lettered");
        note(c, HONCH_STATUS_REJECTED, HONCH_REASON_UNDELIVERABLE, HONCH_COMPONENT_QUEUE, 0, 0,
             "a message the frame limit cannot carry was dead-lettered");
        return HONCH_STATUS_REJECTED;
    }
    return HONCH_STATUS_OK;
}

/* Contract 7.5. */
static void record(hc_client_t *c, int st, uint32_t retry_after, bool request_made) {
    uint64_t now = c->plat.monotonic_ms(c->plat.ctx);
    if (st == HONCH_STATUS_OK) {
        c->backoff_ms = c->retry_initial_ms;
        c->next_retry_at = 0;
        c->next_outbound_at = hc_add_sat(now, c->min_interval_ms);
        if (!c->msg_active) c->flush_requested = c->queued_events >= c->threshold;
    } else if (st == HONCH_STATUS_REJECTED) {
        dead_letter_message(c);
        if (request_made) c->next_outbound_at = hc_add_sat(now, c->min_interval_ms);
        c->flush_requested = c->queued_events >= c->threshold;
    } else {
        c->msg_next = 0; /* W5.6: start over from offset 0 with the same bytes */
        c->next_retry_at = hc_backoff(&c->backoff_ms, c->retry_max_ms, now, retry_after);
        c->flush_requested = 1;
    }
    c->next_interval_at = hc_add_sat(now, c->interval_ms);
}

/* Send the pending message's next frame and record the outcome. */
static int send_frame(hc_client_t *c) {
    honch_request_t req;
    honch_response_t resp;
    uint32_t o = c->msg_next, payload;
    bool final;
    uint32_t nf = hc_frame(c->msg_len, c->msg_id, &o, HONCH_MAX_FRAME, c->frame_fields, &payload, &final);
    if (nf == 0) { /* unreachable: hc_form_message checked every step (W5.5) */
        record(c, HONCH_STATUS_REJECTED, 0, false);
        return HONCH_STATUS_REJECTED;
    }
    req.url_base = c->url_base.ptr;
    req.url_base_len = c->url_base.len;
    req.url_path = HONCH_CAPTURE_PATH;
    req.headers[0].name = HONCH_HEADER_CONTENT_TYPE;
    req.headers[0].value = HONCH_CONTENT_TYPE;
    req.headers[0].value_len = sizeof(HONCH_CONTENT_TYPE) - 1;
    req.headers[1].name = HONCH_HEADER_PROJECT_KEY;
    req.headers[1].value = c->api_key.ptr;
    req.headers[1].value_len = c->api_key.len;
    req.headers[2].name = HONCH_HEADER_STREAM_ID;
    req.headers[2].value = c->stream_id;
    req.headers[2].value_len = HONCH_STREAM_ID_CHARS;
    req.body[0] = c->frame_fields;
    req.body_len[0] = nf;
    req.body[1] = c->msg + c->msg_start + c->msg_next;
    req.body_len[1] = payload;
    req.body[2] = c->crc_le;
    req.body_len[2] = final ? 2 : 0;
    req.body_total = nf + payload + req.body_len[2];
    req.timeout_ms = c->timeout_ms;
    resp.outcome = HONCH_POST_TRANSPORT;
    resp.http_status = 0;
    resp.retry_after = NULL;
    resp.retry_after_len = 0;
    resp.os_error = 0;
    c->plat.post(c->plat.ctx, &req, &resp);

    int st = hc_classify(&resp, final);
    if (st != HONCH_STATUS_OK) note_outcome(c, st, &resp);
    uint32_t ra = 0;
    if (st == HONCH_STATUS_OK) {
        if (final) {
            c->msg_active = 0;
            hc_q_remove_through(c, c->msg_last_seq); /* consumed; dropped ones are ignored */
        } else {
            c->msg_next = o;
        }
    } else if (st == HONCH_STATUS_REJECTED) {
        if (resp.http_status == 401) say(c, "honch: capture refused the project key (401); events dead-lettered");
    } else {
        ra = hc_retry_after_ms(resp.retry_after, resp.retry_after_len, c->plat.wall_ms(c->plat.ctx));
    }
    record(c, st, ra, true);
    return st;
}

/* Contract 7.3 step 6 (and 7.4 step 3): whole messages, all their frames. */
static int send_messages(hc_client_t *c, uint32_t max_messages) {
    bool rejected = false;
    for (uint32_t i = 0; i < max_messages && pending_work(c); i++) {
        if (!c->msg_active && hc_form_message(c) != HONCH_STATUS_OK) {
            record(c, HONCH_STATUS_REJECTED, 0, false);
            rejected = true;
            continue;
        }
        for (;;) {
            int st = send_frame(c);
            if (st == HONCH_STATUS_REJECTED) {
                rejected = true;
                break;
            }
            if (st != HONCH_STATUS_OK) return st; /* retryable: stop */
            if (!c->msg_active) break;           /* delivered */
        }
    }
    return rejected ? HONCH_STATUS_REJECTED : HONCH_STATUS_OK;
}

static int enter_scheduler(hc_client_t *c) {
    if (!c || c->magic != HC_MAGIC || c->closed) return HONCH_STATUS_NOT_INITIALIZED;
    if (c->busy || c->building) return HONCH_STATUS_BUSY;
    c->busy = 1;
    hc_drain_errors(c);
    return HONCH_STATUS_OK;
}

int honch_tick(honch_client_t *client, bool online) {
    hc_client_t *c = HC(client);
    int st = enter_scheduler(c);
    if (st) return st;
    uint64_t now = c->plat.monotonic_ms(c->plat.ctx);
    if (!pending_work(c)) {
        c->flush_requested = 0;
        if (now >= c->next_interval_at) c->next_interval_at = hc_add_sat(now, c->interval_ms);
    } else if (!online) {
        c->flush_requested = 1;
    } else if (now < c->next_retry_at) {
        /* backing off */
    } else if (!(c->flush_requested || c->msg_active || now >= c->next_interval_at)) {
        /* not due */
    } else if (spacing_blocks(c, now)) {
        c->flush_requested = 1;
    } else if (c->msg_active || hc_form_message(c) == HONCH_STATUS_OK) {
        send_frame(c); /* exactly one frame; the outcome is recorded, not returned */
    } else {
        record(c, HONCH_STATUS_REJECTED, 0, false);
    }
    c->busy = 0;
    return HONCH_STATUS_OK;
}

int honch_flush(honch_client_t *client, bool online) {
    hc_client_t *c = HC(client);
    int st = enter_scheduler(c);
    if (st) return st;
    if (!online) {
        if (pending_work(c)) c->flush_requested = 1;
        st = HONCH_STATUS_OFFLINE;
        note(c, st, HONCH_REASON_OFFLINE, HONCH_COMPONENT_SCHEDULER, 0, 0, "connectivity reports offline");
    } else if (!pending_work(c)) {
        c->flush_requested = 0;
    } else if (spacing_blocks(c, c->plat.monotonic_ms(c->plat.ctx))) {
        c->flush_requested = 1;
        st = HONCH_STATUS_RATE_LIMITED;
        note(c, st, HONCH_REASON_MIN_INTERVAL, HONCH_COMPONENT_SCHEDULER, 0, 0,
             "flush_min_interval_ms has not passed since the last upload");
    } else {
        st = send_messages(c, c->max_batches);
    }
    c->busy = 0;
    return st;
}

int honch_shutdown(honch_client_t *client, bool online) {
    hc_client_t *c = HC(client);
    if (!c || c->magic != HC_MAGIC || c->closed) return HONCH_STATUS_OK;
    int st = enter_scheduler(c);
    if (st) return st;
    int queued = hc_enqueue_named(c, "$device_shutdown");
    int sent = online ? send_messages(c, 1) : HONCH_STATUS_OK; /* ignores spacing and backoff */
    c->closed = 1;
    c->busy = 0;
    return queued ? queued : sent;
}

int honch_scheduler_state(const honch_client_t *client, honch_scheduler_state_t *out) {
    const hc_client_t *c = HCC(client);
    if (!c || c->magic != HC_MAGIC || !out) return HONCH_STATUS_NOT_INITIALIZED;
    out->flush_requested = c->flush_requested;
    out->closed = c->closed;
    out->message_pending = c->msg_active;
    out->backoff_ms = c->backoff_ms;
    out->next_interval_at = c->next_interval_at;
    out->next_retry_at = c->next_retry_at;
    out->next_outbound_at = c->next_outbound_at;
    out->pending_message_id = c->msg_active ? c->msg_id : 0;
    out->pending_offset = c->msg_active ? c->msg_next : 0;
    out->pending_length = c->msg_active ? c->msg_len : 0;
    out->pending_events = c->msg_active ? c->msg_events : 0;
    return HONCH_STATUS_OK;
}
