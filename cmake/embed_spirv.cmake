# cmake -DNAME=<name> -DINPUT=<file.spv> -DOUTPUT=<file.cpp> -P embed_spirv.cmake
# Writes the SPIR-V words of INPUT as a C++ array named vki::shaders::spirv::<name>.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR remainder "${hex_length} % 8")
if(hex_length EQUAL 0 OR NOT remainder EQUAL 0)
    message(FATAL_ERROR "${INPUT} is not a whole number of 32-bit words")
endif()
math(EXPR word_count "${hex_length} / 8")
# SPIR-V files are little-endian words: bytes b0 b1 b2 b3 make 0xb3b2b1b0.
string(REGEX REPLACE "(..)(..)(..)(..)" "0x\\4\\3\\2\\1u," words "${hex}")
string(REGEX REPLACE "((0x[0-9a-f]+u,){8})" "\\1\n    " words "${words}")
file(WRITE "${OUTPUT}.tmp"
"// Generated from ${NAME}.spv by cmake/embed_spirv.cmake. Do not edit.
#include <cstddef>
#include <cstdint>
namespace vki::shaders::spirv {
extern const uint32_t ${NAME}[] = {
    ${words}
};
extern const size_t ${NAME}_words = ${word_count};
}  // namespace vki::shaders::spirv
")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
