/* Fused quantize-dequantize on the CPU for the simulation's formats that eager PyTorch
 * runs in many passes: integers and minifloats under one scale (round, saturate, scale back
 * in one pass instead of four and eight), and block-scaled formats (OCP MX v1.0, NVIDIA
 * NVFP4) whose scales come from each block at run time (three passes instead of about
 * twenty operations: (1) each block's amax, (2) each block's scale and multiplier,
 * (3) every element multiplied, rounded onto the element grid, saturated, scaled back).
 *
 * Every float32 operation is the one genq.quant.formats does, in the same order, so the
 * results are bit-identical (tests/quant/test_native_kernels.py); compiled with
 * -ffp-contract=off and without -ffast-math so no multiply-add is fused and no rounding
 * trick is folded away.
 *
 * Block layout: x and out share one strided view (n1, n2, n_blocks, block, inner); element
 * (a, b, k, j, i) sits at a*s1 + b*s2 + k*s_blocks + j*s_block + i*s_inner.
 *
 * Threads: built with -fopenmp, work splits over `nthreads` (torch's intra-op count, passed
 * per call) once a tensor has PARALLEL_MIN elements; every element and every block is
 * computed alone (the one reduction, the tensor amax, is a max), so the bits do not depend
 * on the thread count. The OpenMP runtime is the one torch loaded (libgomp.so.1).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

static inline uint32_t bits_of(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float float_of(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline float max_f(float a, float b) { return a > b ? a : b; }
static inline float min_f(float a, float b) { return a < b ? a : b; }
/* torch.clamp: NaN stays NaN (a value |y| > ~2^100 times the grid's step overflows the
 * rounding trick to NaN in PyTorch too) */
static inline float clamp_nan(float v, float lo, float hi) {
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}
/* max that keeps a NaN once seen (as torch.amax does), so a NaN block is caught below */
static inline float max_nan(float acc, float a) { return (a > acc || a != a) ? a : acc; }

/* FloatFormat.round_: 2^floor(log2|y|) from the exponent field, no lower than the smallest
 * normal binade, times 1.5 * 2^(23 - m); adding and subtracting it rounds to the grid step,
 * ties to even; then saturation at the largest value. */
static inline float round_float_fast(float y, float min_normal, float magic_mult, float max_value) {
    float magic = max_f(float_of(bits_of(y) & 0x7F800000u), min_normal) * magic_mult;
    return clamp_nan((y + magic) - magic, -max_value, max_value);
}

/* integers: round half to even, then clamp */
static inline float round_int_fast(float y, float qmin, float qmax) {
    return clamp_nan(nearbyintf(y), qmin, qmax);
}

/* scale modes, as BlockFormat.scales_and_multipliers */
enum { SCALE_E8M0 = 0, SCALE_FP32 = 1, SCALE_SMALL_FLOAT = 2, SCALE_SMALL_FLOAT_TENSOR = 3 };

/* the largest of 16 lanes, by halving (vectorizes; one running max would serialize) */
static inline float lanes_max(float *restrict v) {
    for (int w = 8; w >= 1; w /= 2)
        for (int l = 0; l < w; ++l) v[l] = max_nan(v[l], v[l + w]);
    return v[0];
}

/* amax of each of the `inner` blocks that start at `base` */
static inline void row_amax(const float *restrict base, int64_t block, int64_t inner,
                            int64_t s_block, int64_t s_inner, float *restrict acc) {
    if (s_inner == 1) {                       /* blocks across channels of NCHW: vector over i */
        for (int64_t i = 0; i < inner; ++i) acc[i] = 0.0f;
        for (int64_t j = 0; j < block; ++j) {
            const float *restrict p = base + j * s_block;
            for (int64_t i = 0; i < inner; ++i) acc[i] = max_nan(acc[i], fabsf(p[i]));
        }
        return;
    }
    for (int64_t i = 0; i < inner; ++i) {
        const float *restrict p = base + i * s_inner;
        if (s_block == 1 && block % 16 == 0) {  /* contiguous blocks: 16 lanes, then across */
            float v[16] = {0};
            for (int64_t j = 0; j < block; j += 16)
                for (int l = 0; l < 16; ++l) v[l] = max_nan(v[l], fabsf(p[j + l]));
            acc[i] = lanes_max(v);
        } else {
            float m = 0.0f;
            for (int64_t j = 0; j < block; ++j) m = max_nan(m, fabsf(p[j * s_block]));
            acc[i] = m;
        }
    }
}

/* amax of n blocks stored end to end (blocks along the last, contiguous dimension). A max
 * along a block is a reduction the compiler will not vectorize (float max is not
 * associative to it), so with AVX-512 or AVX2 it is written out: lane-wise maxima over the
 * block, then across the lanes; a NaN anywhere makes the block's amax NaN. */
static void packed_amax(const float *restrict x, int64_t n, int64_t block, float *restrict amax) {
    int64_t q = 0;
#if defined(__AVX512F__)
    if (block % 16 == 0) {
        const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
        for (; q < n; ++q) {
            const float *p = x + q * block;
            __m512 m = _mm512_setzero_ps();
            __mmask16 nan = 0;
            for (int64_t j = 0; j < block; j += 16) {
                __m512 v = _mm512_and_ps(_mm512_loadu_ps(p + j), abs_mask);
                nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
                m = _mm512_max_ps(m, v);
            }
            amax[q] = nan ? NAN : _mm512_reduce_max_ps(m);
        }
        return;
    }
#elif defined(__AVX2__)
    if (block % 8 == 0) {
        const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
        for (; q < n; ++q) {
            const float *p = x + q * block;
            __m256 m = _mm256_setzero_ps(), nan = _mm256_setzero_ps();
            for (int64_t j = 0; j < block; j += 8) {
                __m256 v = _mm256_and_ps(_mm256_loadu_ps(p + j), abs_mask);
                nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                m = _mm256_max_ps(m, v);
            }
            __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
            h = _mm_max_ps(h, _mm_movehl_ps(h, h));
            h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
            amax[q] = _mm256_movemask_ps(nan) ? NAN : _mm_cvtss_f32(h);
        }
        return;
    }
#endif
    for (; q < n; ++q) {
        float m = 0.0f;
        for (int64_t j = 0; j < block; ++j) m = max_nan(m, fabsf(x[q * block + j]));
        amax[q] = m;
    }
}

/* every block's scale and multiplier from its amax (BlockFormat.scales_and_multipliers), one
 * plain loop per mode so each vectorizes */
static void block_scales(const float *restrict amax, int64_t n, int scale_mode, int element_emax,
                         float element_max, float scale_min_normal, float scale_magic_mult,
                         float scale_max, float tensor_amax, float *restrict scale,
                         float *restrict mult) {
    if (scale_mode == SCALE_E8M0) {
        const int32_t emax_field = (int32_t)(element_emax << 23);
        for (int64_t i = 0; i < n; ++i) {
            int32_t field = (int32_t)(bits_of(amax[i]) & 0x7F800000u) - emax_field;
            scale[i] = float_of((uint32_t)(field < 0x00400000 ? 0x00400000 : field));
        }
        for (int64_t i = 0; i < n; ++i) mult[i] = 1.0f / scale[i];
    } else if (scale_mode == SCALE_FP32) {
        for (int64_t i = 0; i < n; ++i) scale[i] = max_f(amax[i] / element_max, 1.1754943508222875e-38f);
        for (int64_t i = 0; i < n; ++i) mult[i] = 1.0f / scale[i];
    } else if (scale_mode == SCALE_SMALL_FLOAT) {
        for (int64_t i = 0; i < n; ++i)
            scale[i] = round_float_fast(min_f(max_f(amax[i] / element_max, scale_min_normal), scale_max),
                                        scale_min_normal, scale_magic_mult, scale_max);
        for (int64_t i = 0; i < n; ++i) mult[i] = 1.0f / scale[i];
    } else {
        /* NVFP4: an FP32 tensor scale amax / (scale max * element max), 1 for an all-zero
         * tensor; block scales relative to it; multiplier (1 / tensor scale) / block scale */
        const float tensor_scale = tensor_amax > 0.0f ? tensor_amax / (scale_max * element_max) : 1.0f;
        const float tensor_inv = 1.0f / tensor_scale;
        for (int64_t i = 0; i < n; ++i) {
            float ideal = amax[i] / element_max;
            float bs = round_float_fast(min_f(max_f(ideal / tensor_scale, scale_min_normal), scale_max),
                                        scale_min_normal, scale_magic_mult, scale_max);
            scale[i] = tensor_scale * bs;
            mult[i] = tensor_inv / bs;
        }
    }
}

/* the `inner` blocks at `src` multiplied, rounded onto the element grid, saturated, scaled back */
static inline void row_quantize(const float *restrict src, float *restrict dst, int64_t block,
                                int64_t inner, int64_t s_block, int64_t s_inner,
                                const float *restrict scale, const float *restrict mult, int el_is_int,
                                float el_min_normal, float el_magic_mult, float el_max, float el_qmin,
                                float el_qmax) {
    if (s_inner == 1) {
        for (int64_t j = 0; j < block; ++j) {
            const float *restrict p = src + j * s_block;
            float *restrict q = dst + j * s_block;
            if (el_is_int) {
                for (int64_t i = 0; i < inner; ++i)
                    q[i] = round_int_fast(p[i] * mult[i], el_qmin, el_qmax) * scale[i];
            } else {
                for (int64_t i = 0; i < inner; ++i)
                    q[i] = round_float_fast(p[i] * mult[i], el_min_normal, el_magic_mult, el_max) * scale[i];
            }
        }
        return;
    }
    for (int64_t i = 0; i < inner; ++i) {
        const float *restrict p = src + i * s_inner;
        float *restrict q = dst + i * s_inner;
        const float m = mult[i], sc = scale[i];
        if (el_is_int) {
            for (int64_t j = 0; j < block; ++j)
                q[j * s_block] = round_int_fast(p[j * s_block] * m, el_qmin, el_qmax) * sc;
        } else if (s_block == 1) {
            for (int64_t j = 0; j < block; ++j)
                q[j] = round_float_fast(p[j] * m, el_min_normal, el_magic_mult, el_max) * sc;
        } else {
            for (int64_t j = 0; j < block; ++j)
                q[j * s_block] = round_float_fast(p[j * s_block] * m, el_min_normal, el_magic_mult,
                                                  el_max) * sc;
        }
    }
}

/* n blocks stored end to end, each with its own scale and multiplier */
static void packed_quantize(const float *restrict x, float *restrict out, int64_t n, int64_t block,
                            const float *restrict scale, const float *restrict mult, int el_is_int,
                            float el_min_normal, float el_magic_mult, float el_max, float el_qmin,
                            float el_qmax) {
    for (int64_t q = 0; q < n; ++q) {
        const float *restrict p = x + q * block;
        float *restrict o = out + q * block;
        const float m = mult[q], sc = scale[q];
        if (el_is_int) {
            for (int64_t j = 0; j < block; ++j) o[j] = round_int_fast(p[j] * m, el_qmin, el_qmax) * sc;
        } else {
            for (int64_t j = 0; j < block; ++j)
                o[j] = round_float_fast(p[j] * m, el_min_normal, el_magic_mult, el_max) * sc;
        }
    }
}

#define PARALLEL_MIN 65536
#define PACKED_CHUNK 256      /* blocks per work unit when blocks lie end to end */
#define SCALES_CHUNK 4096     /* amax entries per work unit of the scales */

/* One call's tensors, layout and format, shared by the threads of its parallel region. */
typedef struct {
    const float *x;
    float *out, *amax, *scale, *mult;
    int64_t n1, n2, n_blocks, block, inner, s1, s2, s_blocks, s_block, s_inner;
    int64_t n_amax, per_row, units;
    int packed, scale_mode, element_emax, el_is_int;
    float element_max, scale_min_normal, scale_magic_mult, scale_max;
    float el_min_normal, el_magic_mult, el_max, el_qmin, el_qmax;
    float tensor_amax;
    int bad;
} job_t;

/* The three passes. Their loops are orphaned `omp for` constructs: inside a parallel region
 * they split over its threads, outside one they run serially at no cost (an OpenMP region
 * costs microseconds per call even for one thread, which small activations cannot pay). */
static void run_job(job_t *j) {
    /* (1) every block's amax (NVFP4's tensor scale needs all of them first); a unit is one
     * row of `inner` blocks, or PACKED_CHUNK blocks lying end to end */
    #pragma omp for schedule(static)
    for (int64_t u = 0; u < j->units; ++u) {
        const int64_t ab = u / j->per_row, c = u % j->per_row, a = ab / j->n2, b = ab % j->n2;
        const float *base = j->x + a * j->s1 + b * j->s2;
        if (j->packed) {
            const int64_t k0 = c * PACKED_CHUNK;
            const int64_t kn = j->n_blocks - k0 < PACKED_CHUNK ? j->n_blocks - k0 : PACKED_CHUNK;
            packed_amax(base + k0 * j->block, kn, j->block, j->amax + ab * j->n_blocks + k0);
        } else {
            row_amax(base + c * j->s_blocks, j->block, j->inner, j->s_block, j->s_inner,
                     j->amax + u * j->inner);
        }
    }
    #pragma omp single
    {
        float v[16] = {0}, m = 0.0f;
        const int64_t n16 = j->n_amax - j->n_amax % 16;
        for (int64_t q = 0; q < n16; q += 16)
            for (int l = 0; l < 16; ++l) v[l] = max_nan(v[l], j->amax[q + l]);
        for (int64_t q = n16; q < j->n_amax; ++q) m = max_nan(m, j->amax[q]);
        j->tensor_amax = max_nan(m, lanes_max(v));
        j->bad = !isfinite(j->tensor_amax);
    }                                          /* (implied barrier: every thread sees `bad`) */
    if (j->bad)
        return;

    /* (2) scales and multipliers */
    const int64_t scale_units = (j->n_amax + SCALES_CHUNK - 1) / SCALES_CHUNK;
    #pragma omp for schedule(static)
    for (int64_t u = 0; u < scale_units; ++u) {
        const int64_t i0 = u * SCALES_CHUNK;
        const int64_t n = j->n_amax - i0 < SCALES_CHUNK ? j->n_amax - i0 : SCALES_CHUNK;
        block_scales(j->amax + i0, n, j->scale_mode, j->element_emax, j->element_max,
                     j->scale_min_normal, j->scale_magic_mult, j->scale_max, j->tensor_amax,
                     j->scale + i0, j->mult + i0);
    }

    /* (3) the elements */
    #pragma omp for schedule(static)
    for (int64_t u = 0; u < j->units; ++u) {
        const int64_t ab = u / j->per_row, c = u % j->per_row, a = ab / j->n2, b = ab % j->n2;
        const int64_t off = a * j->s1 + b * j->s2;
        if (j->packed) {
            const int64_t k0 = c * PACKED_CHUNK, r = ab * j->n_blocks + k0;
            const int64_t kn = j->n_blocks - k0 < PACKED_CHUNK ? j->n_blocks - k0 : PACKED_CHUNK;
            packed_quantize(j->x + off + k0 * j->block, j->out + off + k0 * j->block, kn, j->block,
                            j->scale + r, j->mult + r, j->el_is_int, j->el_min_normal,
                            j->el_magic_mult, j->el_max, j->el_qmin, j->el_qmax);
        } else {
            const int64_t o = off + c * j->s_blocks;
            row_quantize(j->x + o, j->out + o, j->block, j->inner, j->s_block, j->s_inner,
                         j->scale + u * j->inner, j->mult + u * j->inner, j->el_is_int,
                         j->el_min_normal, j->el_magic_mult, j->el_max, j->el_qmin, j->el_qmax);
        }
    }
}

/* Returns 0 when done, 1 when some block's amax is not finite (an infinity or NaN in x: the
 * caller falls back to the PyTorch path, which propagates it as torch does), 2 when out of
 * memory. */
int genq_block_fake_quant(const float *restrict x, float *restrict out, int nthreads,
                          int64_t n1, int64_t n2, int64_t n_blocks, int64_t block, int64_t inner,
                          int64_t s1, int64_t s2, int64_t s_blocks, int64_t s_block, int64_t s_inner,
                          int scale_mode, int element_emax, float element_max,
                          float scale_min_normal, float scale_magic_mult, float scale_max,
                          int el_is_int, float el_min_normal, float el_magic_mult, float el_max,
                          float el_qmin, float el_qmax) {
    const int64_t n_amax = n1 * n2 * n_blocks * inner;
    float *amax = (float *)malloc(sizeof(float) * (size_t)(3 * n_amax + 1));
    if (!amax) return 2;
    job_t j = {x, out, amax, amax + n_amax, amax + 2 * n_amax,
               n1, n2, n_blocks, block, inner, s1, s2, s_blocks, s_block, s_inner,
               n_amax, 0, 0, inner == 1 && s_block == 1 && s_blocks == block,
               scale_mode, element_emax, el_is_int,
               element_max, scale_min_normal, scale_magic_mult, scale_max,
               el_min_normal, el_magic_mult, el_max, el_qmin, el_qmax, 0.0f, 0};
    j.per_row = j.packed ? (n_blocks + PACKED_CHUNK - 1) / PACKED_CHUNK : n_blocks;
    j.units = n1 * n2 * j.per_row;
    if (nthreads > 1 && n_amax * block >= PARALLEL_MIN) {
        #pragma omp parallel num_threads(nthreads)
        run_job(&j);
    } else {
        run_job(&j);
    }
    free(amax);
    return j.bad ? 1 : 0;
}

/* FloatFormat.fake_quantize with one scale, no gradient: (x / scale) rounded onto the grid,
 * saturated, times scale, over n elements stored end to end. */
void genq_float_fake_quant(const float *restrict x, float *restrict out, int nthreads, int64_t n,
                           float scale, float min_normal, float magic_mult, float max_value) {
    if (nthreads > 1 && n >= PARALLEL_MIN) {
        #pragma omp parallel for num_threads(nthreads) schedule(static)
        for (int64_t i = 0; i < n; ++i)
            out[i] = round_float_fast(x[i] / scale, min_normal, magic_mult, max_value) * scale;
    } else {
        for (int64_t i = 0; i < n; ++i)
            out[i] = round_float_fast(x[i] / scale, min_normal, magic_mult, max_value) * scale;
    }
}

/* Integers with one scale and zero point, no gradient (primitives._fake_quantize_inplace):
 * round(x * inv_scale) clamped to [qmin - zero point, qmax - zero point], times scale. */
void genq_int_fake_quant(const float *restrict x, float *restrict out, int nthreads, int64_t n,
                         float inv_scale, float lo, float hi, float scale) {
    if (nthreads > 1 && n >= PARALLEL_MIN) {
        #pragma omp parallel for num_threads(nthreads) schedule(static)
        for (int64_t i = 0; i < n; ++i) out[i] = clamp_nan(nearbyintf(x[i] * inv_scale), lo, hi) * scale;
    } else {
        for (int64_t i = 0; i < n; ++i) out[i] = clamp_nan(nearbyintf(x[i] * inv_scale), lo, hi) * scale;
    }
}
