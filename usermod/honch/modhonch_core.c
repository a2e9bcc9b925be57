// _honch_core for MicroPython: the SDK core (core/) behind the same Python API as
// the host extension (docs/architecture.md, "The SDK"), so that the `honch`
// package runs unchanged on both.
//
// Memory: the client object holds the core's state (HONCH_CLIENT_SIZE bytes);
// the event queue lives in the caller's event_buffer (contract 6.6). Tracking an
// event allocates nothing on the GC heap: properties are walked in place by the
// emit functions below, twice (measure, then write), as honch.h describes.

#include <stdarg.h>
#include <string.h>

#include "py/objint.h"
#include "py/objstr.h"
#include "py/runtime.h"
#if MICROPY_LONGINT_IMPL == MICROPY_LONGINT_IMPL_MPZ
#include "py/mpz.h"
#endif

#include "honch_mp.h"

// --- errors --------------------------------------------------------------------------

// _honch_core.Error: str(exc) is the status text, as the published wrapper expects
// (it maps by `.status`, else by that text); `.status` is the status value and
// `.detail` what exactly was wrong, or None. MicroPython exception instances
// cannot carry attributes, so both are kept in args: (text, status, detail).

static void error_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    if ((attr == MP_QSTR_status || attr == MP_QSTR_detail) && dest[0] == MP_OBJ_NULL) {
        mp_obj_tuple_t *args = ((mp_obj_exception_t *)MP_OBJ_TO_PTR(self_in))->args;
        size_t at = attr == MP_QSTR_status ? 1 : 2;
        dest[0] = args != NULL && args->len > at ? args->items[at] : mp_const_none;
        return;
    }
    mp_obj_exception_attr(self_in, attr, dest);
}

// Only the text for str() and tracebacks; repr() shows all args.
static void error_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    mp_obj_tuple_t *args = ((mp_obj_exception_t *)MP_OBJ_TO_PTR(self_in))->args;
    mp_print_kind_t k = kind & ~PRINT_EXC_SUBCLASS;
    if (args == NULL || args->len != 3 || k == PRINT_REPR) {
        mp_obj_exception_print(print, self_in, kind);
        return;
    }
    if (k == PRINT_EXC && !(kind & PRINT_EXC_SUBCLASS)) {
        mp_printf(print, "%q: ", MP_QSTR_Error);
    }
    mp_obj_print_helper(print, args->items[0], PRINT_STR);
}

MP_DEFINE_CONST_OBJ_TYPE(
    honch_mp_type_Error,
    MP_QSTR_Error,
    MP_TYPE_FLAG_NONE,
    make_new, mp_obj_exception_make_new,
    print, error_print,
    attr, error_attr,
    parent, &mp_type_Exception
    );

// Raise Error(status) with `detail` (a str object or None); a client (NULL during
// construction) records it as its last_error.
static NORETURN void raise_error_obj(honch_mp_client_t *self, int status, mp_obj_t detail) {
    if (self != NULL) {
        size_t len = 0;
        const char *text = detail == mp_const_none ? NULL : mp_obj_str_get_data(detail, &len);
        honch_note_error(&self->core, status, text, len);
    }
    const char *text = honch_status_text(status);
    mp_obj_t args[3] = {mp_obj_new_str(text, strlen(text)), MP_OBJ_NEW_SMALL_INT(status), detail};
    nlr_raise(mp_obj_new_exception_args(&honch_mp_type_Error, 3, args));
}

static NORETURN void raise_error(honch_mp_client_t *self, int status) {
    raise_error_obj(self, status, mp_const_none);
}

// Error(INVALID_ARGUMENT) whose detail says what was wrong (printf-style, with %q for qstrs).
static NORETURN void raise_invalid(honch_mp_client_t *self, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vstr_t text;
    vstr_init(&text, 64);
    mp_print_t print = {&text, (mp_print_strn_t)vstr_add_strn};
    mp_vprintf(&print, fmt, ap);
    va_end(ap);
    raise_error_obj(self, HONCH_STATUS_INVALID_ARGUMENT, mp_obj_new_str_from_vstr(&text));
}

// --- ints ---------------------------------------------------------------------------------

// An int (not a bool) as sign and magnitude; false when it does not fit in 64 bits.
// Never allocates (big ints are read digit by digit).
static bool int_parts(mp_obj_t value, bool *negative, uint64_t *magnitude) {
    if (mp_obj_is_small_int(value)) {
        mp_int_t v = MP_OBJ_SMALL_INT_VALUE(value);
        *negative = v < 0;
        *magnitude = v < 0 ? (uint64_t)0 - (uint64_t)(int64_t)v : (uint64_t)v;
        return true;
    }
    #if MICROPY_LONGINT_IMPL == MICROPY_LONGINT_IMPL_MPZ
    const mpz_t *z = &((mp_obj_int_t *)MP_OBJ_TO_PTR(value))->mpz;
    if (z->len * MPZ_DIG_SIZE > 64 + MPZ_DIG_SIZE) {
        return false;
    }
    uint64_t m = 0;
    for (size_t i = z->len; i-- > 0;) {
        if (m >> (64 - MPZ_DIG_SIZE) != 0) {
            return false;  // the next shift would lose bits
        }
        m = (m << MPZ_DIG_SIZE) | z->dig[i];
    }
    *negative = z->neg;
    *magnitude = m;
    return true;
    #elif MICROPY_LONGINT_IMPL == MICROPY_LONGINT_IMPL_LONGLONG
    long long v = ((mp_obj_int_t *)MP_OBJ_TO_PTR(value))->val;
    *negative = v < 0;
    *magnitude = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    return true;
    #else
    return false;
    #endif
}

static bool is_int(mp_obj_t value) {
    // bool is its own type in MicroPython, so mp_obj_is_int() is false for True/False.
    return mp_obj_is_int(value);
}

// --- values: Python objects -> the core's two-pass writer -------------------------------------

typedef struct {
    mp_obj_t value;  // a dict (properties, traits) or any value (set_property)
    // The first problem this port found (the core's own refusals have no detail):
    // `problem` followed by the offending object's type name when `bad_type` is set.
    const char *problem;
    const char *bad_type;
} emit_ctx_t;

static int emit_value(emit_ctx_t *ctx, honch_writer_t *w, mp_obj_t v);

static int refuse(emit_ctx_t *ctx, honch_writer_t *w, const char *problem, mp_obj_t v) {
    if (ctx->problem == NULL) {
        ctx->problem = problem;
        ctx->bad_type = v == MP_OBJ_NULL ? NULL : mp_obj_get_type_str(v);
    }
    return honch_w_fail(w, HONCH_STATUS_INVALID_ARGUMENT);
}

static int emit_pairs(emit_ctx_t *ctx, honch_writer_t *w, mp_map_t *map) {
    for (size_t i = 0; i < map->alloc; i++) {
        if (!mp_map_slot_is_filled(map, i)) {
            continue;
        }
        mp_obj_t key = map->table[i].key;
        if (!mp_obj_is_str(key)) {
            return refuse(ctx, w, "keys must be str, not", key);
        }
        GET_STR_DATA_LEN(key, k, k_len);
        int st = honch_w_key(w, (const char *)k, k_len);
        if (st == HONCH_STATUS_OK) {
            st = emit_value(ctx, w, map->table[i].value);
        }
        if (st != HONCH_STATUS_OK) {
            return st;
        }
    }
    return HONCH_STATUS_OK;
}

static int emit_value(emit_ctx_t *ctx, honch_writer_t *w, mp_obj_t v) {
    if (v == mp_const_none) {
        return honch_w_null(w);
    }
    if (v == mp_const_true || v == mp_const_false) {
        return honch_w_bool(w, v == mp_const_true);
    }
    if (is_int(v)) {
        bool negative;
        uint64_t magnitude;
        if (!int_parts(v, &negative, &magnitude) || (negative && magnitude > (uint64_t)1 << 63)) {
            return refuse(ctx, w, "int outside -2**63 .. 2**64-1", MP_OBJ_NULL);
        }
        if (!negative) {
            return honch_w_uint(w, magnitude);
        }
        return honch_w_int(w, (int64_t)((uint64_t)0 - magnitude));
    }
    #if MICROPY_PY_BUILTINS_FLOAT
    if (mp_obj_is_float(v)) {
        return honch_w_f64(w, (double)mp_obj_float_get(v));
    }
    #endif
    if (mp_obj_is_str(v)) {
        GET_STR_DATA_LEN(v, s, s_len);
        return honch_w_str(w, (const char *)s, s_len);
    }
    if (mp_obj_is_type(v, &mp_type_bytes) || mp_obj_is_type(v, &mp_type_bytearray)) {
        mp_buffer_info_t info;
        mp_get_buffer_raise(v, &info, MP_BUFFER_READ);  // cannot fail for these types
        return honch_w_bytes(w, info.buf, info.len);
    }
    if (mp_obj_is_type(v, &mp_type_list) || mp_obj_is_type(v, &mp_type_tuple)) {
        size_t len;
        mp_obj_t *items;
        mp_obj_get_array(v, &len, &items);
        int st = honch_w_begin_array(w, len);
        for (size_t i = 0; i < len && st == HONCH_STATUS_OK; i++) {
            st = emit_value(ctx, w, items[i]);
        }
        return st == HONCH_STATUS_OK ? honch_w_end(w) : st;
    }
    if (mp_obj_is_dict_or_ordereddict(v)) {
        mp_map_t *map = mp_obj_dict_get_map(v);
        int st = honch_w_begin_map(w, map->used);
        if (st == HONCH_STATUS_OK) {
            st = emit_pairs(ctx, w, map);
        }
        return st == HONCH_STATUS_OK ? honch_w_end(w) : st;
    }
    return refuse(ctx, w, "unsupported value type", v);
}

// Properties and traits: the dict's pairs at the top level.
static int emit_properties(void *ctx_in, honch_writer_t *w) {
    emit_ctx_t *ctx = ctx_in;
    return emit_pairs(ctx, w, mp_obj_dict_get_map(ctx->value));
}

// set_property: exactly one value.
static int emit_single_value(void *ctx_in, honch_writer_t *w) {
    emit_ctx_t *ctx = ctx_in;
    return emit_value(ctx, w, ctx->value);
}

// --- the Client type ------------------------------------------------------------------------

// The qstr of a str key if one exists, without interning a new one (no allocation
// for an unknown key); MP_QSTRnull otherwise.
static qstr existing_qstr(mp_obj_t key) {
    if (mp_obj_is_qstr(key)) {
        return MP_OBJ_QSTR_VALUE(key);
    }
    GET_STR_DATA_LEN(key, data, len);
    return qstr_find_strn((const char *)data, len);
}

static const qstr numeric_option_names[] = {
    MP_QSTR_batch_size, MP_QSTR_max_queued_events, MP_QSTR_max_event_bytes, MP_QSTR_transport_timeout_ms,
    MP_QSTR_flush_interval_seconds, MP_QSTR_flush_min_interval_ms, MP_QSTR_flush_event_threshold,
    MP_QSTR_flush_max_batches, MP_QSTR_flush_retry_initial_ms, MP_QSTR_flush_retry_max_ms,
    MP_QSTR_battery_low_threshold,
};

static uint32_t *numeric_option(honch_config_t *config, size_t i) {
    uint32_t *fields[] = {
        &config->batch_size, &config->max_queued_events, &config->max_event_bytes,
        &config->transport_timeout_ms, &config->flush_interval_seconds, &config->flush_min_interval_ms,
        &config->flush_event_threshold, &config->flush_max_batches, &config->flush_retry_initial_ms,
        &config->flush_retry_max_ms, &config->battery_low_threshold,
    };
    return fields[i];
}

#define NUM_NUMERIC_OPTIONS (sizeof(numeric_option_names) / sizeof(numeric_option_names[0]))

// String options: config key, where it goes, which reference keeps it alive.
typedef struct {
    qstr key;
    size_t offset;  // of the honch_str_t in honch_config_t
    int ref;
} string_option_t;

static const string_option_t string_options[] = {
    {MP_QSTR_api_key, offsetof(honch_config_t, api_key), HONCH_MP_REF_API_KEY},
    {MP_QSTR_device_id, offsetof(honch_config_t, device_id), HONCH_MP_REF_DEVICE_ID},
    {MP_QSTR_device_model, offsetof(honch_config_t, device_model), HONCH_MP_REF_DEVICE_MODEL},
    {MP_QSTR_firmware_version, offsetof(honch_config_t, firmware_version), HONCH_MP_REF_FIRMWARE_VERSION},
    {MP_QSTR_endpoint_url, offsetof(honch_config_t, endpoint_url), HONCH_MP_REF_ENDPOINT_URL},
    {MP_QSTR_environment, offsetof(honch_config_t, environment), HONCH_MP_REF_ENVIRONMENT},
    {MP_QSTR_reset_reason, offsetof(honch_config_t, reset_reason), HONCH_MP_REF_RESET_REASON},
};

#define NUM_STRING_OPTIONS (sizeof(string_options) / sizeof(string_options[0]))

// Host-only hooks of the C core (docs/architecture.md); MicroPython has none of them.
static const qstr host_hook_keys[] = {
    MP_QSTR_platform, MP_QSTR_transport, MP_QSTR_battery_callback, MP_QSTR_auto_properties_callback,
    MP_QSTR_state_path, MP_QSTR_crash_report,
};

static bool config_string(qstr name, mp_obj_t value, honch_mp_client_t *self, honch_config_t *config) {
    for (size_t i = 0; i < NUM_STRING_OPTIONS; i++) {
        if (string_options[i].key != name) {
            continue;
        }
        if (value == mp_const_none) {
            return true;  // None: the default (required keys are then reported missing by the core)
        }
        if (!mp_obj_is_str(value)) {
            raise_invalid(NULL, "%q must be a str, not %s", name, mp_obj_get_type_str(value));
        }
        honch_str_t *field = (honch_str_t *)((char *)config + string_options[i].offset);
        GET_STR_DATA_LEN(value, data, len);
        field->ptr = (const char *)data;
        field->len = len;
        self->refs[string_options[i].ref] = value;
        return true;
    }
    return false;
}

static bool config_number(qstr name, mp_obj_t value, honch_config_t *config) {
    for (size_t i = 0; i < NUM_NUMERIC_OPTIONS; i++) {
        if (numeric_option_names[i] != name) {
            continue;
        }
        if (value == mp_const_none) {
            return true;
        }
        bool negative;
        uint64_t magnitude;
        if (!is_int(value)) {
            raise_invalid(NULL, "%q must be an int or None, not %s", name, mp_obj_get_type_str(value));
        }
        if (!int_parts(value, &negative, &magnitude) || (negative && magnitude != 0) || magnitude > HONCH_U32_MAX) {
            raise_invalid(NULL, "%q must lie within 0..0xFFFFFFFF", name);
        }
        *numeric_option(config, i) = (uint32_t)magnitude;
        return true;
    }
    return false;
}

static void config_event_buffer(mp_obj_t value, honch_mp_client_t *self, honch_config_t *config) {
    if (value == mp_const_none) {
        return;  // reported as missing below
    }
    mp_buffer_info_t info;
    if (!mp_get_buffer(value, &info, MP_BUFFER_WRITE)) {
        raise_invalid(NULL, "event_buffer must be a writable contiguous buffer (bytearray, writable memoryview), not %s",
            mp_obj_get_type_str(value));
    }
    // An empty bytearray has no storage; the core refuses the length, not a NULL.
    static uint8_t no_storage;
    config->event_buffer = info.buf != NULL ? info.buf : &no_storage;
    config->event_buffer_len = info.len;
    self->event_buffer = info.buf;
    self->event_buffer_len = info.len;
    self->refs[HONCH_MP_REF_EVENT_BUFFER] = value;
}

static mp_obj_t client_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    // Client(config) or Client(config=...), like the host's.
    mp_obj_t config_obj;
    if (n_args == 1 && n_kw == 0) {
        config_obj = args[0];
    } else if (n_args == 0 && n_kw == 1 && args[0] == MP_OBJ_NEW_QSTR(MP_QSTR_config)) {
        config_obj = args[1];
    } else {
        mp_raise_TypeError(MP_ERROR_TEXT("Client() takes one argument, config"));
    }
    if (!mp_obj_is_dict_or_ordereddict(config_obj)) {
        raise_invalid(NULL, "config must be a dict, not %s", mp_obj_get_type_str(config_obj));
    }
    honch_mp_client_t *self = mp_obj_malloc(honch_mp_client_t, type);
    for (size_t i = 0; i < HONCH_MP_REF_COUNT; i++) {
        self->refs[i] = mp_const_none;
    }
    self->pending_exception = MP_OBJ_NULL;
    self->time_fn = MP_OBJ_NULL;
    self->event_buffer = NULL;
    self->event_buffer_len = 0;
    memset(&self->core, 0, sizeof(self->core));  // a closed client until honch_init succeeds

    honch_config_t config;
    memset(&config, 0, sizeof(config));
    mp_map_t *map = mp_obj_dict_get_map(config_obj);
    for (size_t i = 0; i < map->alloc; i++) {
        if (!mp_map_slot_is_filled(map, i)) {
            continue;
        }
        mp_obj_t key = map->table[i].key;
        mp_obj_t value = map->table[i].value;
        if (!mp_obj_is_str(key)) {
            raise_invalid(NULL, "config keys must be str, not %s", mp_obj_get_type_str(key));
        }
        qstr name = existing_qstr(key);
        if (name == MP_QSTR_event_buffer) {
            config_event_buffer(value, self, &config);
            continue;
        }
        if (name != MP_QSTRnull && (config_string(name, value, self, &config) || config_number(name, value, &config))) {
            continue;
        }
        for (size_t j = 0; j < MP_ARRAY_SIZE(host_hook_keys); j++) {
            if (name == host_hook_keys[j]) {
                raise_invalid(NULL, "%q is a hook of the host port; the MicroPython port has none", host_hook_keys[j]);
            }
        }
        raise_invalid(NULL, "unknown configuration key '%s'", mp_obj_str_get_str(key));
    }
    for (size_t i = 0; i < 4; i++) {  // api_key ... firmware_version
        const honch_str_t *field = (const honch_str_t *)((const char *)&config + string_options[i].offset);
        if (field->ptr == NULL) {
            raise_invalid(NULL, "%q is required", string_options[i].key);
        }
    }
    if (config.event_buffer == NULL) {
        raise_invalid(NULL, "event_buffer is required");
    }
    if (config.reset_reason.ptr == NULL) {  // the published wrapper passes none
        config.reset_reason.ptr = honch_mp_reset_reason();
        config.reset_reason.len = strlen(config.reset_reason.ptr);
    }
    config.sdk_platform.ptr = HONCH_SDK_PLATFORM_MICROPYTHON;
    config.sdk_platform.len = strlen(HONCH_SDK_PLATFORM_MICROPYTHON);
    config.max_transport_timeout_ms = HONCH_MICROPYTHON_MAX_TRANSPORT_TIMEOUT_MS;
    honch_mp_platform_init(self);
    config.platform = &self->platform;

    int st = honch_init(&self->core, &config);
    honch_mp_raise_pending(self);
    if (st != HONCH_STATUS_OK) {
        raise_error(self, st);
    }
    return MP_OBJ_FROM_PTR(self);
}

// Before every call into the core: the queue's memory must still be where it was.
// A bytearray that grew may have moved; the core must never write to the old place.
static honch_mp_client_t *client_of(mp_obj_t self_in) {
    honch_mp_client_t *self = MP_OBJ_TO_PTR(self_in);
    mp_obj_t buffer = self->refs[HONCH_MP_REF_EVENT_BUFFER];
    if (buffer != mp_const_none) {
        mp_buffer_info_t info;
        if (!mp_get_buffer(buffer, &info, MP_BUFFER_WRITE) || info.buf != self->event_buffer
            || info.len < self->event_buffer_len) {
            static const char resized[] = "event_buffer was resized while the client uses it; keep its length fixed";
            raise_error_obj(self, HONCH_STATUS_INVALID_ARGUMENT, mp_obj_new_str(resized, sizeof(resized) - 1));
        }
    }
    return self;
}

// The result of a core call: None, or the exception of its status.
static mp_obj_t status_result(honch_mp_client_t *self, int st, const emit_ctx_t *emit) {
    honch_mp_raise_pending(self);
    if (st == HONCH_STATUS_OK) {
        return mp_const_none;
    }
    if (emit != NULL && emit->problem != NULL && st == HONCH_STATUS_INVALID_ARGUMENT) {
        if (emit->bad_type != NULL) {
            raise_invalid(self, "%s: %s", emit->problem, emit->bad_type);
        }
        raise_invalid(self, "%s", emit->problem);
    }
    raise_error(self, st);
}

static void require_str(honch_mp_client_t *self, mp_obj_t value, const char *what) {
    if (!mp_obj_is_str(value)) {
        raise_invalid(self, "%s must be a str, not %s", what, mp_obj_get_type_str(value));
    }
}

static void require_str_or_none(honch_mp_client_t *self, mp_obj_t value, const char *what) {
    if (value != mp_const_none && !mp_obj_is_str(value)) {
        raise_invalid(self, "%s must be a str, not %s", what, mp_obj_get_type_str(value));
    }
}

static void require_dict_or_none(honch_mp_client_t *self, mp_obj_t value, const char *what) {
    if (value != mp_const_none && !mp_obj_is_dict_or_ordereddict(value)) {
        raise_invalid(self, "%s must be a dict or None, not %s", what, mp_obj_get_type_str(value));
    }
}

// honch_track and honch_identify: a string, then an optional dict walked by the writer.
typedef int (*str_and_dict_call_t)(honch_client_t *, const char *, size_t, honch_emit_fn, void *);

static mp_obj_t call_with_str_and_dict(size_t n_args, const mp_obj_t *args, str_and_dict_call_t call,
    const char *str_what, const char *dict_what) {
    honch_mp_client_t *self = client_of(args[0]);
    mp_obj_t dict = n_args > 2 ? args[2] : mp_const_none;
    require_str(self, args[1], str_what);
    require_dict_or_none(self, dict, dict_what);
    GET_STR_DATA_LEN(args[1], str, str_len);
    emit_ctx_t emit = {dict, NULL, NULL};
    int st = call(&self->core, (const char *)str, str_len,
        dict == mp_const_none ? NULL : emit_properties, &emit);
    return status_result(self, st, &emit);
}

static mp_obj_t client_track(size_t n_args, const mp_obj_t *args) {
    return call_with_str_and_dict(n_args, args, honch_track, "name", "properties");
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(client_track_obj, 2, 3, client_track);

static mp_obj_t client_identify(size_t n_args, const mp_obj_t *args) {
    return call_with_str_and_dict(n_args, args, honch_identify, "distinct_id", "traits");
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(client_identify_obj, 2, 3, client_identify);

static mp_obj_t client_set_property(mp_obj_t self_in, mp_obj_t key, mp_obj_t value) {
    honch_mp_client_t *self = client_of(self_in);
    require_str(self, key, "key");
    GET_STR_DATA_LEN(key, k, k_len);
    emit_ctx_t emit = {value, NULL, NULL};
    int st = honch_set_property(&self->core, (const char *)k, k_len, emit_single_value, &emit);
    return status_result(self, st, &emit);
}
static MP_DEFINE_CONST_FUN_OBJ_3(client_set_property_obj, client_set_property);

static mp_obj_t client_session_start(size_t n_args, const mp_obj_t *args) {
    honch_mp_client_t *self = client_of(args[0]);
    mp_obj_t name = n_args > 1 ? args[1] : mp_const_none;
    require_str_or_none(self, name, "name");
    const char *data = NULL;
    size_t len = 0;
    if (name != mp_const_none) {
        data = mp_obj_str_get_data(name, &len);
    }
    return status_result(self, honch_session_start(&self->core, data, len), NULL);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(client_session_start_obj, 1, 2, client_session_start);

static mp_obj_t client_session_end(mp_obj_t self_in) {
    honch_mp_client_t *self = client_of(self_in);
    return status_result(self, honch_session_end(&self->core), NULL);
}
static MP_DEFINE_CONST_FUN_OBJ_1(client_session_end_obj, client_session_end);

// report_log_error(component, message): the published wrapper's argument order.
static mp_obj_t client_report_log_error(mp_obj_t self_in, mp_obj_t component, mp_obj_t message) {
    honch_mp_client_t *self = client_of(self_in);
    require_str(self, message, "message");
    require_str_or_none(self, component, "component");
    size_t message_len, component_len = 0;
    const char *message_str = mp_obj_str_get_data(message, &message_len);
    const char *component_str = NULL;
    if (component != mp_const_none) {
        component_str = mp_obj_str_get_data(component, &component_len);
    }
    int st = honch_report_log_error(&self->core, message_str, message_len, component_str, component_len);
    return status_result(self, st, NULL);
}
static MP_DEFINE_CONST_FUN_OBJ_3(client_report_log_error_obj, client_report_log_error);

// report_crash(props): the string fields of honch_crash_report_t by name, plus
// summary_version (int >= 0) and coredump_available (bool); None means absent.
static mp_obj_t client_report_crash(mp_obj_t self_in, mp_obj_t props) {
    honch_mp_client_t *self = client_of(self_in);
    if (!mp_obj_is_dict_or_ordereddict(props)) {
        raise_invalid(self, "crash report must be a dict, not %s", mp_obj_get_type_str(props));
    }
    honch_crash_report_t report;
    memset(&report, 0, sizeof(report));
    mp_map_t *map = mp_obj_dict_get_map(props);
    for (size_t i = 0; i < map->alloc; i++) {
        if (!mp_map_slot_is_filled(map, i)) {
            continue;
        }
        mp_obj_t key = map->table[i].key;
        mp_obj_t value = map->table[i].value;
        if (!mp_obj_is_str(key)) {
            raise_invalid(self, "crash report keys must be str, not %s", mp_obj_get_type_str(key));
        }
        if (value == mp_const_none) {
            continue;
        }
        size_t key_len;
        const char *key_str = mp_obj_str_get_data(key, &key_len);
        qstr key_q = existing_qstr(key);
        if (key_q == MP_QSTR_summary_version) {
            bool negative;
            uint64_t magnitude;
            if (!is_int(value)) {
                raise_invalid(self, "crash report summary_version must be an int");
            }
            if (!int_parts(value, &negative, &magnitude) || (negative && magnitude != 0)) {
                raise_invalid(self, "crash report summary_version must lie within 0..2**64-1");
            }
            report.summary_version = magnitude;
        } else if (key_q == MP_QSTR_coredump_available) {
            if (value != mp_const_true && value != mp_const_false) {
                raise_invalid(self, "crash report coredump_available must be a bool");
            }
            report.coredump_available = value == mp_const_true;
        } else {
            honch_str_t *field = honch_crash_report_field(&report, key_str, key_len);
            if (field == NULL) {
                raise_invalid(self, "unknown crash report field %s", key_str);
            }
            if (!mp_obj_is_str(value)) {
                raise_invalid(self, "%s must be a str, not %s", key_str, mp_obj_get_type_str(value));
            }
            GET_STR_DATA_LEN(value, data, len);
            field->ptr = (const char *)data;
            field->len = len;
        }
    }
    return status_result(self, honch_report_crash(&self->core, &report), NULL);
}
static MP_DEFINE_CONST_FUN_OBJ_2(client_report_crash_obj, client_report_crash);

static mp_obj_t client_connectivity_changed(mp_obj_t self_in, mp_obj_t state) {
    honch_mp_client_t *self = client_of(self_in);
    if (state != mp_const_true && state != mp_const_false) {
        raise_invalid(self, "state must be a bool, not %s", mp_obj_get_type_str(state));
    }
    return status_result(self, honch_connectivity_changed(&self->core, state == mp_const_true), NULL);
}
static MP_DEFINE_CONST_FUN_OBJ_2(client_connectivity_changed_obj, client_connectivity_changed);

// tick/flush/shutdown([online]): the published wrapper checks connectivity itself and
// calls them without arguments (online); a wrapper may pass its own decision.
static bool online_arg(size_t n_args, const mp_obj_t *args) {
    return n_args < 2 || mp_obj_is_true(args[1]);
}

static mp_obj_t client_tick(size_t n_args, const mp_obj_t *args) {
    honch_mp_client_t *self = client_of(args[0]);
    return status_result(self, honch_tick(&self->core, online_arg(n_args, args)), NULL);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(client_tick_obj, 1, 2, client_tick);

static mp_obj_t client_flush(size_t n_args, const mp_obj_t *args) {
    honch_mp_client_t *self = client_of(args[0]);
    return status_result(self, honch_flush(&self->core, online_arg(n_args, args)), NULL);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(client_flush_obj, 1, 2, client_flush);

static mp_obj_t client_reset(mp_obj_t self_in) {
    honch_mp_client_t *self = client_of(self_in);
    return status_result(self, honch_reset(&self->core), NULL);
}
static MP_DEFINE_CONST_FUN_OBJ_1(client_reset_obj, client_reset);

static mp_obj_t client_shutdown(size_t n_args, const mp_obj_t *args) {
    honch_mp_client_t *self = client_of(args[0]);
    int st = honch_shutdown(&self->core, online_arg(n_args, args));
    honch_scheduler_state_t state;
    if (honch_scheduler_state(&self->core, &state) != HONCH_STATUS_OK || state.closed) {
        // Contract 7.4: a closed client releases event_buffer.
        self->refs[HONCH_MP_REF_EVENT_BUFFER] = mp_const_none;
        self->refs[HONCH_MP_REF_RETRY_AFTER] = mp_const_none;
        self->event_buffer = NULL;
        self->event_buffer_len = 0;
    }
    return status_result(self, st, NULL);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(client_shutdown_obj, 1, 2, client_shutdown);

static mp_obj_t client_get_device_id(mp_obj_t self_in) {
    honch_mp_client_t *self = client_of(self_in);
    const char *id;
    size_t len;
    int st = honch_get_device_id(&self->core, &id, &len);
    if (st != HONCH_STATUS_OK) {
        raise_error(self, st);
    }
    return mp_obj_new_str(id, len);
}
static MP_DEFINE_CONST_FUN_OBJ_1(client_get_device_id_obj, client_get_device_id);

static mp_obj_t client_queue_stats(mp_obj_t self_in) {
    honch_mp_client_t *self = client_of(self_in);
    honch_queue_stats_t stats;
    int st = honch_queue_stats(&self->core, &stats);
    if (st != HONCH_STATUS_OK) {
        raise_error(self, st);
    }
    const struct {
        qstr key;
        uint64_t value;
    } fields[] = {
        {MP_QSTR_queued_events, stats.queued_events},
        {MP_QSTR_queued_bytes, stats.queued_bytes},
        {MP_QSTR_buffer_bytes, stats.buffer_bytes},
        {MP_QSTR_high_water_events, stats.high_water_events},
        {MP_QSTR_high_water_bytes, stats.high_water_bytes},
        {MP_QSTR_capacity_dropped_events, stats.capacity_dropped_events},
        {MP_QSTR_oversized_rejected_events, stats.oversized_rejected_events},
        {MP_QSTR_enqueue_failures, stats.enqueue_failures},
        {MP_QSTR_dead_lettered_events, stats.dead_lettered_events},
    };
    mp_obj_t dict = mp_obj_new_dict(MP_ARRAY_SIZE(fields));
    for (size_t i = 0; i < MP_ARRAY_SIZE(fields); i++) {
        mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(fields[i].key), mp_obj_new_int_from_ull(fields[i].value));
    }
    return dict;
}
static MP_DEFINE_CONST_FUN_OBJ_1(client_queue_stats_obj, client_queue_stats);

static mp_obj_t client_stream_id(mp_obj_t self_in) {
    honch_mp_client_t *self = MP_OBJ_TO_PTR(self_in);  // also valid after shutdown
    const char *id = honch_stream_id(&self->core);
    return mp_obj_new_str(id, strlen(id));
}
static MP_DEFINE_CONST_FUN_OBJ_1(client_stream_id_obj, client_stream_id);

static mp_obj_t int_or_none(int value) {
    return value ? mp_obj_new_int(value) : mp_const_none;
}

static mp_obj_t str_or_none(const char *text) {
    return text != NULL ? mp_obj_new_str(text, strlen(text)) : mp_const_none;
}

// last_error() -> {status, reason, http, os_error, message, component} (honch-micropython 0.3.1).
static mp_obj_t client_last_error(mp_obj_t self_in) {
    honch_mp_client_t *self = MP_OBJ_TO_PTR(self_in);  // also valid after shutdown
    honch_last_error_t e;
    int st = honch_last_error(&self->core, &e);
    if (st != HONCH_STATUS_OK) {
        raise_error(NULL, st);
    }
    mp_obj_t dict = mp_obj_new_dict(6);
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_status), str_or_none(honch_status_text(e.status)));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_reason), str_or_none(e.reason));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_http), int_or_none(e.http_status));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_os_error), int_or_none(e.os_error));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_message), str_or_none(e.status ? e.message : NULL));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_component), str_or_none(e.component));
    return dict;
}
static MP_DEFINE_CONST_FUN_OBJ_1(client_last_error_obj, client_last_error);

// The published wrapper's interface (honch-micropython 0.3.1, honch/client.py), plus stream_id.
static const mp_rom_map_elem_t client_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_track), MP_ROM_PTR(&client_track_obj) },
    { MP_ROM_QSTR(MP_QSTR_identify), MP_ROM_PTR(&client_identify_obj) },
    { MP_ROM_QSTR(MP_QSTR_set_property), MP_ROM_PTR(&client_set_property_obj) },
    { MP_ROM_QSTR(MP_QSTR_session_start), MP_ROM_PTR(&client_session_start_obj) },
    { MP_ROM_QSTR(MP_QSTR_session_end), MP_ROM_PTR(&client_session_end_obj) },
    { MP_ROM_QSTR(MP_QSTR_report_log_error), MP_ROM_PTR(&client_report_log_error_obj) },
    { MP_ROM_QSTR(MP_QSTR_report_crash), MP_ROM_PTR(&client_report_crash_obj) },
    { MP_ROM_QSTR(MP_QSTR_connectivity_changed), MP_ROM_PTR(&client_connectivity_changed_obj) },
    { MP_ROM_QSTR(MP_QSTR_tick), MP_ROM_PTR(&client_tick_obj) },
    { MP_ROM_QSTR(MP_QSTR_flush), MP_ROM_PTR(&client_flush_obj) },
    { MP_ROM_QSTR(MP_QSTR_reset), MP_ROM_PTR(&client_reset_obj) },
    { MP_ROM_QSTR(MP_QSTR_shutdown), MP_ROM_PTR(&client_shutdown_obj) },
    { MP_ROM_QSTR(MP_QSTR_get_device_id), MP_ROM_PTR(&client_get_device_id_obj) },
    { MP_ROM_QSTR(MP_QSTR_queue_stats), MP_ROM_PTR(&client_queue_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_last_error), MP_ROM_PTR(&client_last_error_obj) },
    { MP_ROM_QSTR(MP_QSTR_stream_id), MP_ROM_PTR(&client_stream_id_obj) },
};
static MP_DEFINE_CONST_DICT(client_locals_dict, client_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    honch_mp_type_Client,
    MP_QSTR_Client,
    MP_TYPE_FLAG_NONE,
    make_new, client_make_new,
    locals_dict, &client_locals_dict
    );

// --- the module -----------------------------------------------------------------------------

static const MP_DEFINE_STR_OBJ(sdk_version_obj, HONCH_SDK_VERSION);

static const mp_rom_map_elem_t honch_core_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__honch_core) },
    { MP_ROM_QSTR(MP_QSTR_SDK_VERSION), MP_ROM_PTR(&sdk_version_obj) },
    { MP_ROM_QSTR(MP_QSTR___version__), MP_ROM_PTR(&sdk_version_obj) },
    { MP_ROM_QSTR(MP_QSTR_PLATFORM), MP_ROM_QSTR(MP_QSTR_micropython) },
    { MP_ROM_QSTR(MP_QSTR_Client), MP_ROM_PTR(&honch_mp_type_Client) },
    { MP_ROM_QSTR(MP_QSTR_Error), MP_ROM_PTR(&honch_mp_type_Error) },
    { MP_ROM_QSTR(MP_QSTR_ERROR_OK), MP_ROM_INT(HONCH_STATUS_OK) },
    { MP_ROM_QSTR(MP_QSTR_ERROR_INVALID_ARGUMENT), MP_ROM_INT(HONCH_STATUS_INVALID_ARGUMENT) },
    { MP_ROM_QSTR(MP_QSTR_ERROR_OUT_OF_MEMORY), MP_ROM_INT(HONCH_STATUS_OUT_OF_MEMORY) },
    { MP_ROM_QSTR(MP_QSTR_ERROR_IO), MP_ROM_INT(HONCH_STATUS_IO) },
    { MP_ROM_QSTR(MP_QSTR_ERROR_TRANSPORT), MP_ROM_INT(HONCH_STATUS_TRANSPORT) },
    { MP_ROM_QSTR(MP_QSTR_ERROR_RATE_LIMITED), MP_ROM_INT(HONCH_STATUS_RATE_LIMITED) },
    { MP_ROM_QSTR(MP_QSTR_ERROR_SERVER), MP_ROM_INT(HONCH_STATUS_SERVER) },
    { MP_ROM_QSTR(MP_QSTR_ERROR_REJECTED), MP_ROM_INT(HONCH_STATUS_REJECTED) },
    { MP_ROM_QSTR(MP_QSTR_ERROR_NOT_INITIALIZED), MP_ROM_INT(HONCH_STATUS_NOT_INITIALIZED) },
    { MP_ROM_QSTR(MP_QSTR_ERROR_ALREADY_INITIALIZED), MP_ROM_INT(HONCH_STATUS_ALREADY_INITIALIZED) },
    { MP_ROM_QSTR(MP_QSTR_ERROR_QUEUE_FULL), MP_ROM_INT(HONCH_STATUS_QUEUE_FULL) },
    { MP_ROM_QSTR(MP_QSTR_ERROR_TIMEOUT), MP_ROM_INT(HONCH_STATUS_TIMEOUT) },
    { MP_ROM_QSTR(MP_QSTR_ERROR_INTERNAL), MP_ROM_INT(HONCH_STATUS_INTERNAL) },
    { MP_ROM_QSTR(MP_QSTR_ERROR_BUSY), MP_ROM_INT(HONCH_STATUS_BUSY) },
    { MP_ROM_QSTR(MP_QSTR_ERROR_NOT_SUPPORTED), MP_ROM_INT(HONCH_STATUS_NOT_SUPPORTED) },
    { MP_ROM_QSTR(MP_QSTR_ERROR_OFFLINE), MP_ROM_INT(HONCH_STATUS_OFFLINE) },
};
static MP_DEFINE_CONST_DICT(honch_core_globals, honch_core_globals_table);

const mp_obj_module_t honch_mp_module_core = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&honch_core_globals,
};

MP_REGISTER_MODULE(MP_QSTR__honch_core, honch_mp_module_core);
