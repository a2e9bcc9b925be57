/* A small, trusting decoder of wire-v2 messages for readable assertions.
 * (Strict decoding of every request the tests make is done by the pytest
 * wrapper with harness.wire.) Output:
 *   base=<ms> dts=<n> distinct=<s> session=<s|-> ctx=<ids 2..7 comma separated>
 *   <event> +<delta> {key: value, ...}
 * values: "text", 5 (uint), i-5 (int tag), f:2.5, b:00ff, null, true, false, [..], {..}. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fake.h"

typedef struct out {
    char *p;
    size_t left;
} out_t;

static void put(out_t *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p, o->left, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= o->left) n = (int)o->left - 1;
    o->p += n;
    o->left -= (size_t)n;
}

typedef struct tbl {
    const char *s[4096];
    uint32_t n[4096];
    uint64_t count;
} tbl_t;

static void put_str(out_t *o, const tbl_t *t, uint64_t i) {
    if (i >= t->count) {
        put(o, "<bad index %llu>", (unsigned long long)i);
        return;
    }
    put(o, "\"%.*s\"", (int)t->n[i], t->s[i]);
}

static const char *const reserved[] = {"?", "$battery_level", "$wifi_rssi", "reset_reason", "state",
                                       "previous_version", "new_version", "session_name"};

static const uint8_t *key(out_t *o, const tbl_t *t, const uint8_t *p) {
    uint64_t k;
    p = test_uvarint(p, &k);
    if (k & 1) {
        uint64_t i = k >> 1;
        if (i < t->count) put(o, "%.*s", (int)t->n[i], t->s[i]);
    } else {
        put(o, "%s", k / 2 < 8 ? reserved[k / 2] : "?");
    }
    put(o, ": ");
    return p;
}

static const uint8_t *value(out_t *o, const tbl_t *t, const uint8_t *p) {
    uint64_t v;
    uint8_t tag = *p++;
    switch (tag) {
    case 0: put(o, "null"); return p;
    case 1: put(o, "false"); return p;
    case 2: put(o, "true"); return p;
    case 3:
        p = test_uvarint(p, &v);
        put(o, "%llu", (unsigned long long)v);
        return p;
    case 4:
        p = test_uvarint(p, &v);
        put(o, "i%lld", (long long)((v >> 1) ^ (~(v & 1) + 1)));
        return p;
    case 6: {
        double d;
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++) bits |= (uint64_t)p[i] << (8 * i);
        memcpy(&d, &bits, 8);
        put(o, "f:%.17g", d);
        return p + 8;
    }
    case 7:
        p = test_uvarint(p, &v);
        put_str(o, t, v);
        return p;
    case 8:
        p = test_uvarint(p, &v);
        put(o, "b:");
        for (uint64_t i = 0; i < v; i++) put(o, "%02x", p[i]);
        return p + v;
    case 9:
    case 10:
        p = test_uvarint(p, &v);
        put(o, tag == 9 ? "[" : "{");
        for (uint64_t i = 0; i < v; i++) {
            if (i) put(o, ", ");
            if (tag == 10) p = key(o, t, p);
            p = value(o, t, p);
        }
        put(o, tag == 9 ? "]" : "}");
        return p;
    default:
        put(o, "<tag %u>", tag);
        return p;
    }
}

void dump_message(const uint8_t *m, size_t n, char *text, size_t cap) {
    static tbl_t t;
    out_t o = {text, cap};
    const uint8_t *p = m + 3, *end = m + n;
    uint64_t base, count, nev;
    text[0] = 0;
    if (n < 4 || m[0] != 2 || m[1] != 1 || m[2] != 1) {
        put(&o, "<bad header>");
        return;
    }
    p = test_uvarint(p, &base);
    p = test_uvarint(p, &t.count);
    for (uint64_t i = 0; i < t.count && i < 4096; i++) {
        uint64_t len;
        p = test_uvarint(p, &len);
        t.s[i] = (const char *)p;
        t.n[i] = (uint32_t)len;
        p += len;
    }
    p = test_uvarint(p, &count);
    char ctx[8][600];
    int dts = -1;
    memset(ctx, 0, sizeof ctx);
    for (uint64_t i = 0; i < count; i++) {
        uint64_t id, v;
        p = test_uvarint(p, &id);
        uint8_t tag = *p++;
        p = test_uvarint(p, &v);
        if (tag == 7 && id >= 1 && id <= 8 && v < t.count)
            snprintf(ctx[id - 1], sizeof ctx[0], "%.*s", (int)t.n[v], t.s[v]);
        if (id == 9) dts = (int)v;
    }
    put(&o, "base=%llu dts=%d distinct=%s session=%s ctx=%s,%s,%s,%s,%s,%s\n", (unsigned long long)base, dts,
        ctx[0], ctx[7][0] ? ctx[7] : "-", ctx[1], ctx[2], ctx[3], ctx[4], ctx[5], ctx[6]);
    p = test_uvarint(p, &nev);
    for (uint64_t e = 0; e < nev && p < end; e++) {
        uint64_t name, dz, np;
        p = test_uvarint(p, &name);
        p = test_uvarint(p, &dz);
        p = test_uvarint(p, &np);
        put_str(&o, &t, name);
        put(&o, " +%lld {", (long long)((dz >> 1) ^ (~(dz & 1) + 1)));
        for (uint64_t i = 0; i < np; i++) {
            if (i) put(&o, ", ");
            p = key(&o, &t, p);
            p = value(&o, &t, p);
        }
        put(&o, "}\n");
    }
    if (p != end) put(&o, "<%d trailing bytes>\n", (int)(end - p));
}
