/*
 * The event queue: a ring of contiguous records in the caller's event buffer.
 *
 * Every record starts with a kind byte and its 32-bit length. A record never
 * wraps: when it does not fit before the end of the buffer it goes to offset
 * 0 and the gap is remembered in `end`. Push, pop and peek are O(1).
 *
 * Identity: an event record does not carry its distinct_id and session id
 * (a 256-byte distinct_id inline would break the record-size bound of
 * contract 2.3). Instead a marker record (kind 'M') holding (distinct_id,
 * session id) is written before the first event whose identity differs from
 * the one before it; the identity of the oldest queued event lives in the
 * client (head_distinct/head_session). A marker that reaches the head of the
 * queue is absorbed into that copy, so the head record is always an event and
 * dropping or consuming the oldest event is a plain pop.
 */
#include "honch_internal.h"

void hc_q_init(hc_client_t *c, uint8_t *buf, size_t len) {
    c->buf = buf;
    c->cap = len > HC_RING_MAX ? HC_RING_MAX : (uint32_t)len;
    c->next_seq = 1;
    hc_q_clear(c);
}

void hc_q_clear(hc_client_t *c) {
    memset(&c->ring, 0, sizeof c->ring);
    c->lm_valid = 0;
    c->queued_events = 0;
    c->queued_bytes = 0;
    c->head_seq = c->next_seq; /* sequences keep growing: message ids stay unique in the stream */
}

void hc_marker_read(const uint8_t *rec, hc_ident_t *id) {
    uint64_t n;
    const uint8_t *p = hc_get_uvarint(rec + HC_REC_HEADER, &n);
    id->distinct = (const char *)p;
    id->distinct_len = (size_t)n;
    p += n;
    id->session = *p ? (const char *)p + 1 : NULL;
}

uint32_t hc_marker_size(const hc_ident_t *id) {
    return HC_REC_HEADER + hc_uvarint_len(id->distinct_len) + (uint32_t)id->distinct_len + 1 +
           (id->session ? HONCH_SESSION_ID_CHARS : 0);
}

bool hc_ident_eq(const hc_ident_t *a, const hc_ident_t *b) {
    if (!hc_str_eq(a->distinct, a->distinct_len, b->distinct, b->distinct_len)) return false;
    if (!a->session || !b->session) return a->session == b->session;
    return memcmp(a->session, b->session, HONCH_SESSION_ID_CHARS) == 0;
}

void hc_q_head_ident(const hc_client_t *c, hc_ident_t *id) {
    id->distinct = c->head_distinct;
    id->distinct_len = c->head_distinct_len;
    id->session = c->head_session_len ? c->head_session : NULL;
}

void hc_q_set_head_ident(hc_client_t *c, const hc_ident_t *id) {
    memmove(c->head_distinct, id->distinct, id->distinct_len);
    c->head_distinct_len = (uint16_t)id->distinct_len;
    if (id->session) memmove(c->head_session, id->session, HONCH_SESSION_ID_CHARS);
    c->head_session_len = id->session ? HONCH_SESSION_ID_CHARS : 0;
}

void hc_q_tail_ident(const hc_client_t *c, hc_ident_t *id) {
    if (c->lm_valid)
        hc_marker_read(c->buf + c->lm_off, id);
    else
        hc_q_head_ident(c, id);
}

uint32_t hc_q_next(const hc_client_t *c, uint32_t off) {
    off += hc_rec_len(c->buf + off);
    if (c->ring.wrapped && off == c->ring.end) off = 0;
    return off;
}

static void pop_one(hc_client_t *c, bool count_drop) {
    hc_ring_t *r = &c->ring;
    uint8_t *rec = c->buf + r->head;
    uint32_t len = hc_rec_len(rec);
    if (rec[0] == HC_REC_EVENT) {
        c->queued_events--;
        c->head_seq++;
        if (count_drop) c->capacity_dropped++;
    } else {
        hc_ident_t id;
        hc_marker_read(rec, &id);
        hc_q_set_head_ident(c, &id);
        if (c->lm_valid && c->lm_off == r->head) c->lm_valid = 0;
    }
    c->queued_bytes -= len;
    r->head = hc_q_next(c, r->head);
    if (r->wrapped && r->head == 0) r->wrapped = 0; /* the top segment is used up */
    if (--r->nrec == 0) memset(r, 0, sizeof *r);
}

void hc_q_pop(hc_client_t *c, bool count_drop) {
    pop_one(c, count_drop);
    while (c->ring.nrec && c->buf[c->ring.head] == HC_REC_MARKER) pop_one(c, false);
}

uint32_t hc_q_remove_through(hc_client_t *c, uint64_t last_seq) {
    uint32_t n = 0;
    while (c->queued_events && c->head_seq <= last_seq) {
        hc_q_pop(c, false);
        n++;
    }
    return n;
}

/* Find room for n contiguous bytes in the planned ring r (no dropping). */
static bool ring_alloc(const hc_client_t *c, hc_ring_t *r, uint32_t n, uint32_t *off) {
    if (!r->wrapped) {
        if (c->cap - r->tail >= n) {
            *off = r->tail;
            r->tail += n;
            return true;
        }
        if (r->nrec && r->head >= n) {
            r->end = r->tail;
            r->wrapped = 1;
            *off = 0;
            r->tail = n;
            return true;
        }
        return false;
    }
    if (r->head - r->tail >= n) {
        *off = r->tail;
        r->tail += n;
        return true;
    }
    return false;
}

uint32_t hc_q_make_room(hc_client_t *c, uint32_t msize, uint32_t esize, uint32_t *marker_off,
                        hc_ring_t *planned) {
    for (;;) {
        hc_ring_t r = c->ring;
        uint32_t moff = UINT32_MAX, eoff;
        bool need_marker = msize && r.nrec;
        if ((!need_marker || ring_alloc(c, &r, msize, &moff)) && ring_alloc(c, &r, esize, &eoff)) {
            *planned = r;
            *marker_off = moff;
            return eoff;
        }
        hc_q_pop(c, true); /* the record always fits an empty ring (esize <= cap) */
    }
}

static void put_header(uint8_t *p, uint8_t kind, uint32_t len) {
    p[0] = kind;
    p[1] = (uint8_t)len;
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)(len >> 16);
    p[4] = (uint8_t)(len >> 24);
}

void hc_q_commit(hc_client_t *c, const hc_ring_t *planned, uint32_t marker_off, const hc_ident_t *id,
                 uint32_t event_off, uint32_t event_size) {
    hc_ring_t r = *planned;
    uint32_t added = 0;
    if (id) {
        if (marker_off == UINT32_MAX) {
            hc_q_set_head_ident(c, id); /* the queue is empty: the identity starts there */
        } else {
            uint32_t ms = hc_marker_size(id);
            uint8_t *p = c->buf + marker_off;
            put_header(p, HC_REC_MARKER, ms);
            p = hc_put_uvarint(p + HC_REC_HEADER, id->distinct_len);
            memcpy(p, id->distinct, id->distinct_len);
            p += id->distinct_len;
            *p++ = id->session ? HONCH_SESSION_ID_CHARS : 0;
            if (id->session) memcpy(p, id->session, HONCH_SESSION_ID_CHARS);
            c->lm_off = marker_off;
            c->lm_valid = 1;
            added += ms;
            r.nrec++;
        }
    }
    put_header(c->buf + event_off, HC_REC_EVENT, event_size);
    /* The planned allocation reserved the measured size; a smaller final
     * record (deduplicated auto properties) gives the rest back. */
    r.tail = event_off + event_size;
    r.nrec++;
    c->ring = r;
    c->queued_bytes += added + event_size;
    c->queued_events++;
    c->next_seq++;
    if (c->queued_events > c->high_water_events) c->high_water_events = c->queued_events;
    if (c->queued_bytes > c->high_water_bytes) c->high_water_bytes = c->queued_bytes;
}
