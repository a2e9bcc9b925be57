// os.urandom(n) from the nRF51's RNG; included by extmod/modos.c (MICROPY_PY_OS_INCLUDEFILE).

#include "py/runtime.h"

static mp_obj_t mp_os_urandom(mp_obj_t num) {
    mp_int_t n = mp_obj_get_int(num);
    if (n < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("negative length"));
    }
    vstr_t vstr;
    vstr_init_len(&vstr, (size_t)n);
    honch_board_random((uint8_t *)vstr.buf, (size_t)n);
    return mp_obj_new_bytes_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_1(mp_os_urandom_obj, mp_os_urandom);
