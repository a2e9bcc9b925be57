# The Honch SDK as a MicroPython user C module (CMake-based ports: esp32, rp2).
#   make BOARD=... USER_C_MODULES=<repo>/usermod/honch/micropython.cmake
# Heap sizes and other firmware-wide options stay in the board configuration.

add_library(usermod_honch INTERFACE)

get_filename_component(HONCH_ROOT ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)
file(READ ${HONCH_ROOT}/core/VERSION HONCH_SDK_VERSION)
string(STRIP "${HONCH_SDK_VERSION}" HONCH_SDK_VERSION)
file(GLOB HONCH_CORE_SOURCES ${HONCH_ROOT}/core/src/*.c)

target_sources(usermod_honch INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modhonch_core.c
    ${CMAKE_CURRENT_LIST_DIR}/honch_mp_port.c
    ${HONCH_CORE_SOURCES}
)

target_include_directories(usermod_honch INTERFACE
    ${HONCH_ROOT}/core/include
    ${CMAKE_CURRENT_LIST_DIR}
)

target_compile_definitions(usermod_honch INTERFACE
    HONCH_SDK_VERSION="${HONCH_SDK_VERSION}"
)

target_link_libraries(usermod INTERFACE usermod_honch)
