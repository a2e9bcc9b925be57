/*
 * The wire-v2 message encoder (W7) and the chunker (W5.5).
 *
 * hc_encode works in two passes over the event records. The planning pass
 * interns strings in the canonical order (W7.2) straight into the string
 * table area of the output buffer and adds events one by one while every SDK
 * limit of W8 still holds, which yields the longest fitting prefix (6.3)
 * without a search. The writing pass then emits the header (backwards, in
 * front of the table, so nothing moves), the context and the events.
 */
#include "honch_internal.h"

typedef struct enc {
    uint8_t *out;
    uint32_t tbl;       /* offset of the first string-table entry */
    uint32_t tbl_bytes; /* bytes of the entries (length varints + text) */
    uint32_t nstr;
    uint32_t str_bytes; /* text bytes of all strings */
    uint32_t size;      /* planning: bytes of the events section so far */
    uint8_t *w;         /* writing cursor; NULL while planning */
    bool over;          /* planning: the current event breaks a limit */
    uint8_t any_below, any_rebased;
    uint64_t base;
    const hc_msg_ctx_t *ctx;
    uint16_t off[HONCH_MAX_STRINGS];
    uint16_t len[HONCH_MAX_STRINGS];
    uint8_t hash[HONCH_MAX_STRINGS];
} enc_t;

static uint8_t hash8(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    while (n--) h = (h ^ (uint8_t)*s++) * 16777619u;
    return (uint8_t)(h ^ h >> 8 ^ h >> 16 ^ h >> 24);
}

static uint32_t str_index(enc_t *e, const char *s, size_t n) {
    uint8_t h = hash8(s, n);
    for (uint32_t i = 0; i < e->nstr; i++)
        if (e->hash[i] == h && e->len[i] == n && memcmp(e->out + e->off[i], s, n) == 0) return i;
    if (e->w) return 0; /* unreachable: the writing pass meets only planned strings */
    if (n > HONCH_MAX_STRING_BYTES || e->nstr >= HONCH_MAX_STRINGS || e->str_bytes + n > HONCH_MAX_ALL_STRING_BYTES) {
        e->over = true;
        return 0;
    }
    uint8_t *p = hc_put_uvarint(e->out + e->tbl + e->tbl_bytes, n);
    memcpy(p, s, n);
    e->off[e->nstr] = (uint16_t)(p - e->out);
    e->len[e->nstr] = (uint16_t)n;
    e->hash[e->nstr] = h;
    e->tbl_bytes += (uint32_t)(p - (e->out + e->tbl + e->tbl_bytes)) + (uint32_t)n;
    e->str_bytes += (uint32_t)n;
    return e->nstr++;
}

static void emit(enc_t *e, const void *p, uint32_t n) {
    if (e->w) {
        memcpy(e->w, p, n);
        e->w += n;
    } else {
        e->size += n;
    }
}

static void emit_uvarint(enc_t *e, uint64_t v) {
    uint8_t tmp[10];
    emit(e, tmp, (uint32_t)(hc_put_uvarint(tmp, v) - tmp));
}

static void emit_byte(enc_t *e, uint8_t b) { emit(e, &b, 1); }

static const uint8_t *walk_key(enc_t *e, const uint8_t *p) {
    unsigned rid;
    const char *s;
    size_t n;
    p = hc_rec_key(p, &rid, &s, &n);
    emit_uvarint(e, rid ? 2u * rid : 2u * (uint64_t)str_index(e, s, n) + 1);
    return p;
}

static const uint8_t *walk_value(enc_t *e, const uint8_t *p) {
    uint8_t tag = *p++;
    uint64_t v;
    emit_byte(e, tag);
    switch (tag) {
    case HC_TAG_UINT:
    case HC_TAG_INT: {
        const uint8_t *q = hc_get_uvarint(p, &v);
        emit(e, p, (uint32_t)(q - p));
        return q;
    }
    case HC_TAG_F64:
        emit(e, p, 8);
        return p + 8;
    case HC_TAG_STRING:
        p = hc_get_uvarint(p, &v);
        emit_uvarint(e, str_index(e, (const char *)p, (size_t)v));
        return p + v;
    case HC_TAG_BYTES: {
        const uint8_t *q = hc_get_uvarint(p, &v);
        if (v > HONCH_MAX_MESSAGE_BYTES) { /* cannot fit; also keeps `size` small */
            e->over = true;
            return q + v;
        }
        emit(e, p, (uint32_t)(q - p + v));
        return q + v;
    }
    case HC_TAG_ARRAY:
    case HC_TAG_MAP:
        p = hc_get_uvarint(p, &v);
        emit_uvarint(e, v);
        while (v--) {
            if (tag == HC_TAG_MAP) p = walk_key(e, p);
            p = walk_value(e, p);
        }
        return p;
    default:
        return p;
    }
}

/* Contract 5: rebasing of boot-relative stamps. */
static uint64_t event_time(enc_t *e, uint64_t ts) {
    const hc_msg_ctx_t *c = e->ctx;
    if (c->wall >= HONCH_VALID_WALL_CLOCK_MS && c->wall > c->now && ts < HONCH_VALID_WALL_CLOCK_MS && ts <= c->now) {
        ts += c->wall - c->now;
        e->any_rebased = 1;
    }
    if (ts < HONCH_VALID_WALL_CLOCK_MS) e->any_below = 1;
    return ts;
}

static void walk_event(enc_t *e, const uint8_t *rec) {
    uint64_t ts, n, count;
    const uint8_t *p = hc_get_uvarint(rec + HC_REC_HEADER, &ts);
    ts = event_time(e, ts);
    p = hc_get_uvarint(p, &n);
    emit_uvarint(e, str_index(e, (const char *)p, (size_t)n));
    p += n;
    emit_uvarint(e, hc_zigzag((int64_t)(ts - e->base)));
    p = hc_get_uvarint(p, &count);
    if (count > HONCH_MAX_PROPERTIES) e->over = true;
    emit_uvarint(e, count);
    while (count--) {
        p = walk_key(e, p);
        p = walk_value(e, p);
    }
}

static uint32_t context_count(const enc_t *e) {
    return 7u + (e->ctx->strings[7].ptr != NULL) + (e->ctx->time_source != HC_TS_OMIT);
}

/* Size of the whole message with the events planned so far. */
static uint32_t message_size(const enc_t *e, uint32_t nev) {
    uint32_t ctx = 1 + 3 * context_count(e); /* ids, tags and indices are 1 byte each (< 128) */
    return 3 + hc_uvarint_len(e->base) + hc_uvarint_len(e->nstr) + e->tbl_bytes + ctx + hc_uvarint_len(nev) + e->size;
}

uint32_t hc_encode(const hc_msg_ctx_t *ctx, const uint8_t *const *recs, uint32_t n, uint8_t *out, uint32_t *start,
                   uint32_t *len) {
    enc_t e;
    uint64_t ts0;
    memset(&e, 0, offsetof(enc_t, off));
    e.out = out;
    e.ctx = ctx;
    hc_get_uvarint(recs[0] + HC_REC_HEADER, &ts0);
    e.base = ctx->base_time ? ctx->base_time : event_time(&e, ts0);
    e.any_below = e.any_rebased = 0;
    e.tbl = 3 + hc_uvarint_len(e.base) + 2; /* room for a 2-byte string count */

    /* Planning pass. */
    for (int i = 0; i < 8; i++)
        if (ctx->strings[i].ptr) str_index(&e, ctx->strings[i].ptr, ctx->strings[i].len);
    if (n > ctx->max_events) n = ctx->max_events;
    if (n > HONCH_MAX_EVENTS_PER_MESSAGE) n = HONCH_MAX_EVENTS_PER_MESSAGE;
    uint32_t nev = 0;
    while (!e.over && nev < n) {
        uint32_t s_nstr = e.nstr, s_tbl = e.tbl_bytes, s_str = e.str_bytes, s_size = e.size;
        uint8_t s_below = e.any_below, s_rebased = e.any_rebased;
        walk_event(&e, recs[nev]);
        if (e.over || message_size(&e, nev + 1) > HONCH_MAX_MESSAGE_BYTES) {
            /* Entries only ever append: restoring the counters drops this event's. */
            e.nstr = s_nstr;
            e.tbl_bytes = s_tbl;
            e.str_bytes = s_str;
            e.size = s_size;
            e.any_below = s_below;
            e.any_rebased = s_rebased;
            break;
        }
        nev++;
    }
    if (nev == 0) return 0;

    /* Writing pass: header in front of the table, then context and events. */
    uint32_t s = e.tbl - hc_uvarint_len(e.nstr) - hc_uvarint_len(e.base) - 3;
    uint8_t *p = out + s;
    *p++ = HONCH_WIRE_VERSION;
    *p++ = HONCH_MESSAGE_KIND_EVENT_BATCH;
    *p++ = HONCH_FLAG_CONTEXT_PROMOTES_PROPERTIES;
    p = hc_put_uvarint(p, e.base);
    hc_put_uvarint(p, e.nstr);
    e.w = out + e.tbl + e.tbl_bytes;
    emit_uvarint(&e, context_count(&e));
    for (unsigned id = 1; id <= 8; id++) {
        const honch_str_t *cs = &ctx->strings[id - 1];
        if (!cs->ptr) continue;
        emit_byte(&e, (uint8_t)id);
        emit_byte(&e, HC_TAG_STRING);
        emit_uvarint(&e, str_index(&e, cs->ptr, cs->len));
    }
    if (ctx->time_source != HC_TS_OMIT) {
        int src = ctx->time_source;
        if (src == HC_TS_AUTO) src = e.any_below ? 0 : e.any_rebased ? 2 : 1;
        emit_byte(&e, 9);
        emit_byte(&e, HC_TAG_UINT);
        emit_byte(&e, (uint8_t)src);
    }
    emit_uvarint(&e, nev);
    for (uint32_t i = 0; i < nev; i++) walk_event(&e, recs[i]);
    *start = s;
    *len = (uint32_t)(e.w - (out + s));
    return nev;
}

uint32_t hc_frame(uint32_t t, uint32_t id, uint32_t *o, uint32_t max_frame, uint8_t *fields, uint32_t *payload,
                  bool *final) {
    uint32_t off = *o, r = t - off;
    bool cont = off != 0;
    int32_t final_cap = (int32_t)max_frame - 1 - (int32_t)hc_uvarint_len(id) - (cont ? (int32_t)hc_uvarint_len(off) : 0) - 2;
    uint8_t *p = fields + 1;
    if (final_cap < 1) return 0;
    p = hc_put_uvarint(p, id);
    if ((int32_t)r <= final_cap) {
        fields[0] = cont ? HONCH_FRAME_FINAL : HONCH_FRAME_SINGLE;
        if (cont) p = hc_put_uvarint(p, off);
        *payload = r;
        *final = true;
        *o = t;
        return (uint32_t)(p - fields);
    }
    int32_t cap = (int32_t)max_frame - 1 - (int32_t)hc_uvarint_len(id) - (int32_t)hc_uvarint_len(cont ? off : t);
    if (cap < 1) return 0;
    uint32_t n = r < (uint32_t)cap ? r : (uint32_t)cap;
    if (n == r) n = r - (uint32_t)final_cap; /* leave the final frame room for the CRC */
    fields[0] = cont ? HONCH_FRAME_MIDDLE : HONCH_FRAME_INIT;
    p = hc_put_uvarint(p, cont ? off : t);
    *payload = n;
    *final = false;
    *o = off + n;
    return (uint32_t)(p - fields);
}

bool hc_frames_fit(uint32_t t, uint32_t id, uint32_t max_frame) {
    uint8_t fields[1 + 3 * 10];
    uint32_t o = 0, payload;
    bool final = false;
    while (!final)
        if (!hc_frame(t, id, &o, max_frame, fields, &payload, &final)) return false;
    return true;
}
