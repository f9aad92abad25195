# The shader variant table: one line per compiled kernel.
#   vki_shader(<name> <source> [DEFINE ...])
# Names follow <op>_<types>[_feature]; data types are #defines here, tuning numbers
# are specialization constants, shapes are push constants (shaders/common/params.h).
vki_shader(copy_f32    copy.comp   ELEM=float)
vki_shader(copy_vec4   copy.comp   ELEM=vec4)
vki_shader(add_f32     binary.comp OP_ADD)
vki_shader(mul_f32     binary.comp OP_MUL)
vki_shader(sum_f32     reduce.comp OP_SUM)
vki_shader(max_f32     reduce.comp OP_MAX)
vki_shader(peak_f32    peak.comp   TYPE_F32)
vki_shader(peak_f16    peak.comp   TYPE_F16)
