// The platform adapters of the MicroPython port (honch_platform_t): clocks,
// random bytes, the transport and diagnostics. Contract sections 5 and 12.

#include <string.h>

#include "py/mperrno.h"
#include "py/mphal.h"
#include "py/objmodule.h"
#include "py/objstr.h"
#include "py/runtime.h"

#include "honch_mp.h"

// --- monotonic clock -------------------------------------------------------------
//
// mp_hal_ticks_ms() wraps at the width of mp_uint_t (2^32 ms, 49.7 days, on 32-bit
// boards). The unsigned difference of two readings is right across one wrap, so
// the sum below never wraps as long as the SDK is called at least once per wrap
// period, which an application that calls tick() certainly does. The state is
// shared by all clients: it is the platform's clock, not a client's.

static bool monotonic_started;
static mp_uint_t monotonic_last_ticks;
static uint64_t monotonic_now_ms;

static uint64_t honch_mp_monotonic_ms(void *ctx) {
    (void)ctx;
    mp_uint_t ticks = mp_hal_ticks_ms();
    if (!monotonic_started) {
        monotonic_started = true;
        monotonic_now_ms = ticks;  // "since the platform started": the tick count so far
    } else {
        monotonic_now_ms += (mp_uint_t)(ticks - monotonic_last_ticks);
    }
    monotonic_last_ticks = ticks;
    return monotonic_now_ms;
}

// --- wall clock ---------------------------------------------------------------------

// Seconds from 1970-01-01 to 2000-01-01, for ports whose time.time() counts from 2000.
#define SECONDS_1970_TO_2000 (946684800ull)

#if MICROPY_PY_TIME_TIME_TIME_NS

// time.time_ns() without the big int it would allocate: nanoseconds since the port's Epoch.
static uint64_t wall_epoch_ms(honch_mp_client_t *self) {
    (void)self;
    return mp_hal_time_ns() / 1000000u;
}

#else

// time.time(), looked up once per client. Called while an event is queued, so it
// must not allocate: a port without time_ns returns a small int here.
static uint64_t wall_epoch_ms(honch_mp_client_t *self) {
    if (self->time_fn == MP_OBJ_NULL) {
        self->time_fn = mp_const_none;
        nlr_buf_t nlr;
        if (nlr_push(&nlr) == 0) {
            mp_obj_t time_module = mp_import_name(MP_QSTR_time, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
            mp_obj_t dest[2];
            mp_load_method_maybe(time_module, MP_QSTR_time, dest);
            if (dest[0] != MP_OBJ_NULL) {
                self->time_fn = dest[0];
            }
            nlr_pop();
        }
    }
    if (self->time_fn == mp_const_none) {
        return 0;
    }
    uint64_t ms = 0;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t seconds = mp_call_function_0(self->time_fn);
        if (mp_obj_is_small_int(seconds) && MP_OBJ_SMALL_INT_VALUE(seconds) > 0) {
            ms = (uint64_t)MP_OBJ_SMALL_INT_VALUE(seconds) * 1000u;
        #if MICROPY_PY_BUILTINS_FLOAT
        } else if (mp_obj_is_float(seconds) && mp_obj_float_get(seconds) > 0) {
            ms = (uint64_t)(mp_obj_float_get(seconds) * (mp_float_t)1000);
        #endif
        } else if (mp_obj_is_int(seconds)) {
            ms = (uint64_t)mp_obj_int_get_truncated(seconds) * 1000u;
        }
        nlr_pop();
    }
    return ms;
}

#endif

// Unix-epoch milliseconds, or 0 while the clock is not set (contract 5: valid from 2020 on).
static uint64_t honch_mp_wall_ms(void *ctx) {
    uint64_t ms = wall_epoch_ms((honch_mp_client_t *)ctx);
    if (ms == 0) {
        return 0;
    }
    #if !MICROPY_EPOCH_IS_1970
    ms += SECONDS_1970_TO_2000 * 1000u;
    #endif
    return ms >= HONCH_VALID_WALL_CLOCK_MS ? ms : 0;
}

// --- random bytes ---------------------------------------------------------------------
//
// os.urandom() where the port has it (the hardware RNG on esp32/rp2/stm32, getrandom
// on unix). Otherwise (the emulated MPS2 board has no RNG) a splitmix64 generator
// whose state absorbs the tick counters on every call: the cycle counter's value
// when the first client is created depends on when the host's input arrived, so
// stream ids differ between boots.

static uint64_t entropy_state;

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void timing_random_bytes(void *ctx, uint8_t *out, size_t n) {
    entropy_state ^= (uint64_t)mp_hal_ticks_ms() << 32;
    #if MICROPY_PY_TIME
    // The time module requires these of every port that has it.
    entropy_state ^= (uint64_t)mp_hal_ticks_cpu() ^ ((uint64_t)mp_hal_ticks_us() << 17);
    #endif
    entropy_state ^= (uintptr_t)ctx;  // where the GC heap put this client
    while (n > 0) {
        uint64_t r = splitmix64(&entropy_state);
        for (int i = 0; i < 8 && n > 0; i++, n--) {
            *out++ = (uint8_t)(r >> (8 * i));
        }
    }
}

static void honch_mp_random_bytes(void *ctx, uint8_t *out, size_t n) {
    bool done = false;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t os_module = mp_import_name(MP_QSTR_os, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
        mp_obj_t dest[2];
        mp_load_method_maybe(os_module, MP_QSTR_urandom, dest);
        if (dest[0] != MP_OBJ_NULL) {
            mp_obj_t data = mp_call_function_1(dest[0], mp_obj_new_int_from_uint(n));
            mp_buffer_info_t info;
            if (mp_get_buffer(data, &info, MP_BUFFER_READ) && info.len == n) {
                memcpy(out, info.buf, n);
                done = true;
            }
        }
        nlr_pop();
    }
    if (!done) {
        timing_random_bytes(ctx, out, n);
    }
}

// --- transport -------------------------------------------------------------------------
//
// Contract 12: honch_transport.post_chunk(url, body, headers, timeout_ms) ->
// (status, retry_after) or a bare status, looked up on every request so that the harness can
// replace it at run time. OSError(ETIMEDOUT) means TIMEOUT; any other Exception
// TRANSPORT. Nothing may unwind through the core: every exception is caught here.

static void post_chunk(honch_mp_client_t *self, const honch_request_t *req, honch_response_t *resp) {
    vstr_t url;
    vstr_init(&url, req->url_base_len + strlen(req->url_path));
    vstr_add_strn(&url, req->url_base, req->url_base_len);
    vstr_add_str(&url, req->url_path);
    mp_obj_t url_obj = mp_obj_new_str_from_vstr(&url);

    vstr_t body;
    vstr_init_len(&body, req->body_total);
    size_t at = 0;
    for (int i = 0; i < 3; i++) {
        if (req->body_len[i] > 0) {
            memcpy(body.buf + at, req->body[i], req->body_len[i]);
            at += req->body_len[i];
        }
    }
    mp_obj_t body_obj = mp_obj_new_bytes_from_vstr(&body);

    mp_obj_t headers = mp_obj_new_dict(HONCH_REQUEST_HEADERS);
    for (int i = 0; i < HONCH_REQUEST_HEADERS; i++) {
        const honch_header_t *h = &req->headers[i];
        mp_obj_dict_store(headers, mp_obj_new_str(h->name, strlen(h->name)),
            mp_obj_new_str(h->value, h->value_len));
    }

    mp_obj_t transport = mp_import_name(MP_QSTR_honch_transport, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
    mp_obj_t post = mp_load_attr(transport, MP_QSTR_post_chunk);
    mp_obj_t args[4] = {url_obj, body_obj, headers, mp_obj_new_int_from_uint(req->timeout_ms)};
    mp_obj_t result = mp_call_function_n_kw(post, 4, 0, args);

    size_t len = 1;
    mp_obj_t *items = &result;  // a bare status: no Retry-After
    if (mp_obj_is_type(result, &mp_type_tuple) || mp_obj_is_type(result, &mp_type_list)) {
        mp_obj_get_array(result, &len, &items);
        if (len != 2) {
            return;  // an unreadable answer, TRANSPORT
        }
    }
    if (!mp_obj_is_small_int(items[0])) {
        return;
    }
    mp_int_t status = MP_OBJ_SMALL_INT_VALUE(items[0]);
    if (status < 100 || status > 599) {
        return;
    }
    resp->outcome = HONCH_POST_HTTP;
    resp->http_status = (int)status;
    if (len == 2 && mp_obj_is_str_or_bytes(items[1])) {
        // The core reads it after we return: keep it alive until the next request.
        self->refs[HONCH_MP_REF_RETRY_AFTER] = items[1];
        GET_STR_DATA_LEN(items[1], data, data_len);
        resp->retry_after = (const char *)data;
        resp->retry_after_len = data_len;
    }
}

static void honch_mp_post(void *ctx, const honch_request_t *req, honch_response_t *resp) {
    honch_mp_client_t *self = ctx;
    self->refs[HONCH_MP_REF_RETRY_AFTER] = mp_const_none;
    resp->outcome = HONCH_POST_TRANSPORT;
    resp->retry_after = NULL;
    resp->retry_after_len = 0;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        post_chunk(self, req, resp);
        nlr_pop();
        return;
    }
    mp_obj_t exc = MP_OBJ_FROM_PTR(nlr.ret_val);
    resp->outcome = HONCH_POST_TRANSPORT;
    resp->retry_after = NULL;
    if (mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(exc)), MP_OBJ_FROM_PTR(&mp_type_OSError))) {
        mp_obj_t code = mp_obj_exception_get_value(exc);
        if (mp_obj_is_small_int(code)) {
            resp->os_error = (int)MP_OBJ_SMALL_INT_VALUE(code);  // last_error()'s os_error
            if (resp->os_error == MP_ETIMEDOUT) {
                resp->outcome = HONCH_POST_TIMEOUT;
            }
        }
    } else if (!mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(exc)), MP_OBJ_FROM_PTR(&mp_type_Exception))) {
        // KeyboardInterrupt, SystemExit: not a delivery outcome; raised once the core returns.
        if (self->pending_exception == MP_OBJ_NULL) {
            self->pending_exception = exc;
        }
    }
}

void honch_mp_raise_pending(honch_mp_client_t *self) {
    mp_obj_t exc = self->pending_exception;
    if (exc != MP_OBJ_NULL) {
        self->pending_exception = MP_OBJ_NULL;
        nlr_raise(exc);
    }
}

// --- reset reason (contract 11.2) ----------------------------------------------------------

// machine.reset_cause() mapped to $device_boot's reset_reason; "unknown" when the port
// has no machine module, no reset_cause, or another value.
const char *honch_mp_reset_reason(void) {
    static const struct {
        qstr name;
        const char *reason;
    } causes[] = {
        {MP_QSTR_PWRON_RESET, "power_on"}, {MP_QSTR_HARD_RESET, "external"},
        {MP_QSTR_WDT_RESET, "watchdog"}, {MP_QSTR_DEEPSLEEP_RESET, "deep_sleep"},
        {MP_QSTR_SOFT_RESET, "software"}, {MP_QSTR_BROWNOUT_RESET, "brownout"},
    };
    const char *reason = "unknown";
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t machine = mp_import_name(MP_QSTR_machine, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
        mp_obj_t cause = mp_call_function_0(mp_load_attr(machine, MP_QSTR_reset_cause));
        for (size_t i = 0; i < MP_ARRAY_SIZE(causes); i++) {
            mp_obj_t dest[2];
            mp_load_method_maybe(machine, causes[i].name, dest);
            if (dest[0] != MP_OBJ_NULL && mp_obj_equal(dest[0], cause)) {
                reason = causes[i].reason;
                break;
            }
        }
        nlr_pop();
    }
    return reason;
}

// --- diagnostics ---------------------------------------------------------------------------

// The core's sentences (they start with "honch: " and never hold the project key)
// on the console: MicroPython firmware seldom has `logging`.
static void honch_mp_log(void *ctx, const char *msg) {
    (void)ctx;
    mp_printf(&mp_plat_print, "%s\n", msg);
}

void honch_mp_platform_init(honch_mp_client_t *self) {
    honch_platform_t *p = &self->platform;
    memset(p, 0, sizeof(*p));
    p->ctx = self;
    p->monotonic_ms = honch_mp_monotonic_ms;
    p->wall_ms = honch_mp_wall_ms;
    p->random_bytes = honch_mp_random_bytes;
    p->post = honch_mp_post;
    p->log = honch_mp_log;
    // No battery source, auto properties or persistent state on MicroPython
    // (contract 6.6, 11.9): those ops stay NULL.
}
