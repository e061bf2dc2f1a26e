/* The loops that touch every heatmap value, for frames whose values are dense in
 * memory (HWC with contiguous cells, or one contiguous plane per keypoint in CHW).
 * They are written so that the compiler vectorises them (or, for the threshold tests
 * and neighbour maxima, with SSE2 or NEON where the target has it: simd.h), leaving
 * per-element work to the few elements that matter. Everything else (strided views, float16) takes the generic loops in
 * Cython.
 *
 * For every element type T there are:
 *   posefast_mask32_<T>(p, thr): bit j set where p[j] >= thr, for p[0..31];
 *   posefast_max17_<T>(p, cells, best): the per-keypoint maximum over `cells` cells of
 *       17 contiguous values (NaN ignored: it never compares greater);
 *   posefast_first17_<T>(p, cells, best, cell): per keypoint the first cell holding
 *       best[k] (cell[k] left as it was where no cell does);
 *   posefast_argmax_<T>(p, n): the first index of the maximum of n values, NaN ignored,
 *       0 when no value is above -infinity.
 */
#ifndef POSEFAST_DENSE_SCAN_H
#define POSEFAST_DENSE_SCAN_H
#include <Python.h>  /* Py_ssize_t: the index type of the Cython side */
#include <stdint.h>
#include <math.h>
#include <string.h>
#include "simd.h"
#include "half.h"

#define POSEFAST_K 17

/* Index of the lowest set bit of a non-zero mask. */
static inline int posefast_lowest_bit(uint32_t m)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctz(m);
#else
    int i = 0;
    while (!(m & 1u)) { m >>= 1; i++; }
    return i;
#endif
}

/* Index of the highest set bit of a non-zero mask. */
static inline int posefast_highest_bit(uint32_t m)
{
#if defined(__GNUC__) || defined(__clang__)
    return 31 - __builtin_clz(m);
#else
    int i = 31;
    while (!(m & 0x80000000u)) { m <<= 1; i--; }
    return i;
#endif
}

#define POSEFAST_DENSE_SCANS(SUF, T, LOWEST, FIND)                                     \
static inline uint32_t posefast_mask32_##SUF(const T* p, T thr)                      \
{                                                                                     \
    uint32_t m = 0;                                                                   \
    for (int j = 0; j < 32; j++) m |= (uint32_t)(p[j] >= thr) << j;                   \
    return m;                                                                         \
}                                                                                     \
                                                                                      \
static inline void posefast_max17_##SUF(const T* p, Py_ssize_t cells, T* best)         \
{                                                                                     \
    T b[POSEFAST_K];                                                                  \
    for (int k = 0; k < POSEFAST_K; k++) b[k] = LOWEST;                               \
    for (Py_ssize_t c = 0; c < cells; c++, p += POSEFAST_K)                            \
        for (int k = 0; k < POSEFAST_K; k++)                                          \
            b[k] = p[k] > b[k] ? p[k] : b[k];                                         \
    for (int k = 0; k < POSEFAST_K; k++) best[k] = b[k];                              \
}                                                                                     \
                                                                                      \
static inline void posefast_first17_##SUF(const T* p, Py_ssize_t cells, const T* best, \
                                          Py_ssize_t* cell)                            \
{                                                                                     \
    int found[POSEFAST_K] = {0};                                                      \
    int left = POSEFAST_K;                                                            \
    for (Py_ssize_t c = 0; c < cells && left > 0; c++, p += POSEFAST_K) {              \
        int any = 0;                                                                  \
        for (int k = 0; k < POSEFAST_K; k++) any |= (p[k] == best[k]);                \
        if (!any) continue;                                                           \
        for (int k = 0; k < POSEFAST_K; k++)                                          \
            if (!found[k] && p[k] == best[k]) {                                       \
                found[k] = 1;                                                         \
                cell[k] = c;                                                          \
                left--;                                                               \
            }                                                                         \
    }                                                                                 \
}                                                                                     \
                                                                                      \
static inline Py_ssize_t posefast_argmax_##SUF(const T* p, Py_ssize_t n)                \
{                                                                                     \
    T m = LOWEST;                                                                     \
    for (Py_ssize_t i = 0; i < n; i++) m = p[i] > m ? p[i] : m;                        \
    if (!(m > LOWEST)) {                                                              \
        /* all values LOWEST (or NaN): for integers the first cell holds it */        \
        return 0;                                                                     \
    }                                                                                 \
    return FIND(p, n, m);                                                             \
}

/* The first index of m (present) in p[0..n): memchr for bytes (libc's is vectorised,
 * the plain loop is not: a 2^31-cell plane took seconds), a loop for floats. */
static inline Py_ssize_t posefast_find_byte(const void* p, Py_ssize_t n, int m)
{
    const uint8_t* at = (const uint8_t*)memchr(p, (unsigned char)m, (size_t)n);
    return at ? (Py_ssize_t)(at - (const uint8_t*)p) : 0;
}
#define POSEFAST_FIND_LOOP(T)                                                         \
static inline Py_ssize_t posefast_find_##T(const T* p, Py_ssize_t n, T m)              \
{                                                                                     \
    for (Py_ssize_t i = 0; i < n; i++)                                                 \
        if (p[i] == m) return i;                                                      \
    return 0;                                                                         \
}
POSEFAST_FIND_LOOP(float)
POSEFAST_FIND_LOOP(double)

POSEFAST_DENSE_SCANS(u8, uint8_t, 0, posefast_find_byte)
POSEFAST_DENSE_SCANS(i8, int8_t, -128, posefast_find_byte)
POSEFAST_DENSE_SCANS(f32, float, -INFINITY, posefast_find_float)
POSEFAST_DENSE_SCANS(f64, double, -INFINITY, posefast_find_double)

#if defined(POSEFAST_SSE2)
/* The same masks with SSE2 (every x86-64 CPU has it); compilers do not vectorise the
 * plain loops above into compare + movemask on their own. */
#define posefast_mask32_u8 posefast_mask32_u8_sse2
#define posefast_mask32_i8 posefast_mask32_i8_sse2
#define posefast_mask32_f32 posefast_mask32_f32_sse2
static inline uint32_t posefast_mask32_u8_sse2(const uint8_t* p, uint8_t thr)
{
    __m128i t = _mm_set1_epi8((char)thr);
    __m128i a = _mm_loadu_si128((const __m128i*)p);
    __m128i b = _mm_loadu_si128((const __m128i*)(p + 16));
    /* a >= t exactly where max(a, t) == a (unsigned) */
    uint32_t lo = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(a, t), a));
    uint32_t hi = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(b, t), b));
    return lo | (hi << 16);
}
static inline uint32_t posefast_mask32_i8_sse2(const int8_t* p, int8_t thr)
{
    __m128i t = _mm_set1_epi8(thr);
    __m128i a = _mm_loadu_si128((const __m128i*)p);
    __m128i b = _mm_loadu_si128((const __m128i*)(p + 16));
    /* a >= t exactly where not t > a (signed) */
    uint32_t lo = (uint32_t)_mm_movemask_epi8(_mm_cmpgt_epi8(t, a));
    uint32_t hi = (uint32_t)_mm_movemask_epi8(_mm_cmpgt_epi8(t, b));
    return ~(lo | (hi << 16));
}
static inline uint32_t posefast_mask32_f32_sse2(const float* p, float thr)
{
    /* cmpge is false for NaN, as >= is; the 32 lane masks are packed (in order) into
     * bytes so that two movemasks take them all */
    __m128 t = _mm_set1_ps(thr);
    __m128i c[8];
    for (int j = 0; j < 8; j++)
        c[j] = _mm_castps_si128(_mm_cmpge_ps(_mm_loadu_ps(p + 4 * j), t));
    __m128i lo = _mm_packs_epi16(_mm_packs_epi32(c[0], c[1]), _mm_packs_epi32(c[2], c[3]));
    __m128i hi = _mm_packs_epi16(_mm_packs_epi32(c[4], c[5]), _mm_packs_epi32(c[6], c[7]));
    return (uint32_t)_mm_movemask_epi8(lo) | ((uint32_t)_mm_movemask_epi8(hi) << 16);
}

#define posefast_first17_u8(p, cells, best, cell) \
    posefast_first17_bytes_sse2((const uint8_t*)(p), cells, (const uint8_t*)(best), cell)
#define posefast_first17_i8(p, cells, best, cell) \
    posefast_first17_bytes_sse2((const uint8_t*)(p), cells, (const uint8_t*)(best), cell)
/* posefast_first17 for 8-bit keys (equality does not care about signedness): one
 * compare + movemask for keypoints 0..15 per cell, keypoint 16 apart. */
static inline void posefast_first17_bytes_sse2(const uint8_t* p, Py_ssize_t cells,
                                               const uint8_t* best, Py_ssize_t* cell)
{
    __m128i b = _mm_loadu_si128((const __m128i*)best);
    uint32_t left = 0x1ffffu;
    for (Py_ssize_t c = 0; c < cells && left; c++, p += POSEFAST_K) {
        uint32_t eq = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i*)p), b));
        eq |= (uint32_t)(p[16] == best[16]) << 16;
        if (!(eq & left))  /* the usual case: keep `left` off the loop's dependency chain */
            continue;
        eq &= left;
        left &= ~eq;
        while (eq) {
            cell[posefast_lowest_bit(eq)] = c;
            eq &= eq - 1;
        }
    }
}
#elif defined(POSEFAST_NEON)
/* The same with NEON: a compare per 16 keys and the bits gathered by
 * posefast_neon_bits16 (the plain loops compile to a compare and an insert per key). */
#define posefast_mask32_u8 posefast_mask32_u8_neon
#define posefast_mask32_i8 posefast_mask32_i8_neon
#define posefast_mask32_f32 posefast_mask32_f32_neon
static inline uint32_t posefast_mask32_u8_neon(const uint8_t* p, uint8_t thr)
{
    uint8x16_t t = vdupq_n_u8(thr);
    return posefast_neon_bits16(vcgeq_u8(vld1q_u8(p), t))
           | (posefast_neon_bits16(vcgeq_u8(vld1q_u8(p + 16), t)) << 16);
}
static inline uint32_t posefast_mask32_i8_neon(const int8_t* p, int8_t thr)
{
    int8x16_t t = vdupq_n_s8(thr);
    return posefast_neon_bits16(vcgeq_s8(vld1q_s8(p), t))
           | (posefast_neon_bits16(vcgeq_s8(vld1q_s8(p + 16), t)) << 16);
}
static inline uint32_t posefast_mask32_f32_neon(const float* p, float thr)
{
    /* vcgeq is false for NaN, as >= is */
    float32x4_t t = vdupq_n_f32(thr);
    uint32_t m = 0;
    for (int j = 0; j < 4; j++)
        m |= posefast_neon_bits8(vcgeq_f32(vld1q_f32(p + 8 * j), t),
                                 vcgeq_f32(vld1q_f32(p + 8 * j + 4), t)) << (8 * j);
    return m;
}

#define posefast_first17_u8(p, cells, best, cell) \
    posefast_first17_bytes_neon((const uint8_t*)(p), cells, (const uint8_t*)(best), cell)
#define posefast_first17_i8(p, cells, best, cell) \
    posefast_first17_bytes_neon((const uint8_t*)(p), cells, (const uint8_t*)(best), cell)
static inline void posefast_first17_bytes_neon(const uint8_t* p, Py_ssize_t cells,
                                               const uint8_t* best, Py_ssize_t* cell)
{
    uint8x16_t b = vld1q_u8(best);
    uint32_t left = 0x1ffffu;
    for (Py_ssize_t c = 0; c < cells && left; c++, p += POSEFAST_K) {
        uint8x16_t eq16 = vceqq_u8(vld1q_u8(p), b);
        uint32_t eq;
        /* the usual case, no keypoint's maximum here, without gathering bits */
        if (vmaxvq_u8(eq16) == 0 && p[16] != best[16])
            continue;
        eq = posefast_neon_bits16(eq16) | (uint32_t)(p[16] == best[16]) << 16;
        eq &= left;
        left &= ~eq;
        while (eq) {
            cell[posefast_lowest_bit(eq)] = c;
            eq &= eq - 1;
        }
    }
}
#endif


/* Whether any of the n >= 16 contiguous uint8 keys at p is >= thr: one maximum over
 * them, so that a row of the heatmap where nobody is costs a few instructions per 16
 * keys and a single branch. */
static inline int posefast_any_above_u8(const uint8_t* p, Py_ssize_t n, uint8_t thr)
{
#if defined(POSEFAST_SSE2)
    /* the last 16 keys first: the loop below may stop short of them */
    __m128i m = _mm_loadu_si128((const __m128i*)(p + n - 16));
    __m128i m2 = m;
    Py_ssize_t b = 0;
    for (; b + 32 <= n; b += 32) {  /* two maxima in flight */
        m = _mm_max_epu8(m, _mm_loadu_si128((const __m128i*)(p + b)));
        m2 = _mm_max_epu8(m2, _mm_loadu_si128((const __m128i*)(p + b + 16)));
    }
    if (b + 16 <= n)
        m = _mm_max_epu8(m, _mm_loadu_si128((const __m128i*)(p + b)));
    m = _mm_max_epu8(m, m2);
    return _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(m, _mm_set1_epi8((char)thr)), m)) != 0;
#elif defined(POSEFAST_NEON)
    uint8x16_t m = vld1q_u8(p + n - 16), m2 = m;
    Py_ssize_t b = 0;
    for (; b + 32 <= n; b += 32) {
        m = vmaxq_u8(m, vld1q_u8(p + b));
        m2 = vmaxq_u8(m2, vld1q_u8(p + b + 16));
    }
    if (b + 16 <= n)
        m = vmaxq_u8(m, vld1q_u8(p + b));
    return vmaxvq_u8(vmaxq_u8(m, m2)) >= thr;
#else
    uint8_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++) m = p[i] > m ? p[i] : m;
    return m >= thr;
#endif
}

/* Bit k set where key k of the 17 contiguous uint8 keys at p is >= thr. */
static inline uint32_t posefast_cell_above_u8(const uint8_t* p, uint8_t thr)
{
#if defined(POSEFAST_SSE2)
    __m128i v = _mm_loadu_si128((const __m128i*)p);
    uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8((char)thr)), v));
    return m | (uint32_t)(p[16] >= thr) << 16;
#elif defined(POSEFAST_NEON)
    uint32_t m = posefast_neon_bits16(vcgeq_u8(vld1q_u8(p), vdupq_n_u8(thr)));
    return m | (uint32_t)(p[16] >= thr) << 16;
#else
    uint32_t m = 0;
    for (int k = 0; k < POSEFAST_K; k++) m |= (uint32_t)(p[k] >= thr) << k;
    return m;
#endif
}

/* For the 16 keys at p, inside a row of a HWC uint8 heatmap whose cells are contiguous
 * (a key's left and right neighbours 17 bytes away, the rows above and below sy bytes
 * away, all of them present): bit j set where key j is >= thr and no smaller than any
 * of its 8 neighbours (a candidate root). Most runs of 16 keys where nobody is stop
 * after the first comparison. */
static inline uint32_t posefast_run_maxima_u8(const uint8_t* p, Py_ssize_t sy, uint8_t thr)
{
#if defined(POSEFAST_SSE2)
    __m128i t = _mm_set1_epi8((char)thr);
    __m128i v = _mm_loadu_si128((const __m128i*)p);
    __m128i m;
    if (!_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(v, t), v)))
        return 0;
    m = _mm_max_epu8(t, _mm_loadu_si128((const __m128i*)(p - sy - POSEFAST_K)));
    m = _mm_max_epu8(m, _mm_loadu_si128((const __m128i*)(p - sy)));
    m = _mm_max_epu8(m, _mm_loadu_si128((const __m128i*)(p - sy + POSEFAST_K)));
    m = _mm_max_epu8(m, _mm_loadu_si128((const __m128i*)(p - POSEFAST_K)));
    m = _mm_max_epu8(m, _mm_loadu_si128((const __m128i*)(p + POSEFAST_K)));
    m = _mm_max_epu8(m, _mm_loadu_si128((const __m128i*)(p + sy - POSEFAST_K)));
    m = _mm_max_epu8(m, _mm_loadu_si128((const __m128i*)(p + sy)));
    m = _mm_max_epu8(m, _mm_loadu_si128((const __m128i*)(p + sy + POSEFAST_K)));
    return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(v, m), v));
#elif defined(POSEFAST_NEON)
    uint8x16_t v = vld1q_u8(p), m;
    if (vmaxvq_u8(v) < thr)
        return 0;
    m = vmaxq_u8(vdupq_n_u8(thr), vld1q_u8(p - sy - POSEFAST_K));
    m = vmaxq_u8(m, vld1q_u8(p - sy));
    m = vmaxq_u8(m, vld1q_u8(p - sy + POSEFAST_K));
    m = vmaxq_u8(m, vld1q_u8(p - POSEFAST_K));
    m = vmaxq_u8(m, vld1q_u8(p + POSEFAST_K));
    m = vmaxq_u8(m, vld1q_u8(p + sy - POSEFAST_K));
    m = vmaxq_u8(m, vld1q_u8(p + sy));
    m = vmaxq_u8(m, vld1q_u8(p + sy + POSEFAST_K));
    return posefast_neon_bits16(vcgeq_u8(v, m));
#else
    uint32_t bits = 0;
    const Py_ssize_t nb[8] = {-sy - POSEFAST_K, -sy, -sy + POSEFAST_K, -POSEFAST_K,
                              POSEFAST_K, sy - POSEFAST_K, sy, sy + POSEFAST_K};
    for (int j = 0; j < 16; j++) {
        const uint8_t* q = p + j;
        uint8_t m = thr;
        for (int i = 0; i < 8; i++) m = q[nb[i]] > m ? q[nb[i]] : m;
        bits |= (uint32_t)(q[0] >= m) << j;
    }
    return bits;
#endif
}

/* For float32 heatmaps: whether any of the n >= 4 contiguous keys at p is >= thr (a NaN
 * never is), one running maximum over the row. (Every vector variant ignores NaN in
 * its maxima as the scalar code does: SSE2's maxps returns its second operand when one
 * is NaN, NEON's vmaxnm the number; the running maxima start at -inf, never at a key,
 * so that no NaN ever gets into them: a NaN among the first keys of a lane would
 * otherwise hide every later key of that lane.) */
static inline int posefast_any_above_f32(const float* p, Py_ssize_t n, float thr)
{
#if defined(POSEFAST_AVX2)
    /* 8 keys a load, four maxima in flight, then the 4 and fewer left over */
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
    __m128 h;
    Py_ssize_t b = 0;
    for (; b + 32 <= n; b += 32) {
        m0 = _mm256_max_ps(_mm256_loadu_ps(p + b), m0);
        m1 = _mm256_max_ps(_mm256_loadu_ps(p + b + 8), m1);
        m2 = _mm256_max_ps(_mm256_loadu_ps(p + b + 16), m2);
        m3 = _mm256_max_ps(_mm256_loadu_ps(p + b + 24), m3);
    }
    for (; b + 8 <= n; b += 8)
        m0 = _mm256_max_ps(_mm256_loadu_ps(p + b), m0);
    m0 = _mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3));
    h = _mm_max_ps(_mm256_castps256_ps128(m0), _mm256_extractf128_ps(m0, 1));
    if (b + 4 <= n)
        h = _mm_max_ps(_mm_loadu_ps(p + b), h);
    if (b < n)  /* the last keys, in a load that overlaps keys already seen (n >= 4) */
        h = _mm_max_ps(_mm_loadu_ps(p + n - 4), h);
    return _mm_movemask_ps(_mm_cmpge_ps(h, _mm_set1_ps(thr))) != 0;
#elif defined(POSEFAST_SSE2)
    /* four maxima in flight: one would wait out maxps's latency at every step */
    __m128 m0 = _mm_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
    Py_ssize_t b = 0;
    for (; b + 16 <= n; b += 16) {
        m0 = _mm_max_ps(_mm_loadu_ps(p + b), m0);
        m1 = _mm_max_ps(_mm_loadu_ps(p + b + 4), m1);
        m2 = _mm_max_ps(_mm_loadu_ps(p + b + 8), m2);
        m3 = _mm_max_ps(_mm_loadu_ps(p + b + 12), m3);
    }
    for (; b + 4 <= n; b += 4)
        m0 = _mm_max_ps(_mm_loadu_ps(p + b), m0);
    if (b < n)  /* the last keys, in a load that overlaps keys already seen */
        m1 = _mm_max_ps(_mm_loadu_ps(p + n - 4), m1);
    m0 = _mm_max_ps(_mm_max_ps(m0, m1), _mm_max_ps(m2, m3));
    return _mm_movemask_ps(_mm_cmpge_ps(m0, _mm_set1_ps(thr))) != 0;
#elif defined(POSEFAST_NEON)
    /* vmaxnmq (IEEE maxNum) returns the number when one operand is NaN */
    float32x4_t m0 = vdupq_n_f32(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
    Py_ssize_t b = 0;
    for (; b + 16 <= n; b += 16) {
        m0 = vmaxnmq_f32(m0, vld1q_f32(p + b));
        m1 = vmaxnmq_f32(m1, vld1q_f32(p + b + 4));
        m2 = vmaxnmq_f32(m2, vld1q_f32(p + b + 8));
        m3 = vmaxnmq_f32(m3, vld1q_f32(p + b + 12));
    }
    for (; b + 4 <= n; b += 4)
        m0 = vmaxnmq_f32(m0, vld1q_f32(p + b));
    if (b < n)
        m1 = vmaxnmq_f32(m1, vld1q_f32(p + n - 4));
    return vmaxvq_f32(vmaxq_f32(vmaxq_f32(m0, m1), vmaxq_f32(m2, m3))) >= thr;
#else
    for (Py_ssize_t i = 0; i < n; i++)
        if (p[i] >= thr) return 1;
    return 0;
#endif
}

/* Whether any of the 32 contiguous float32 keys at p is >= thr (NaN never is). */
static inline int posefast_any32_f32(const float* p, float thr)
{
#if defined(POSEFAST_AVX2)
    /* _CMP_GE_OQ: false for NaN, as >= is */
    __m256 t = _mm256_set1_ps(thr);
    __m256 a = _mm256_or_ps(_mm256_cmp_ps(_mm256_loadu_ps(p), t, _CMP_GE_OQ),
                            _mm256_cmp_ps(_mm256_loadu_ps(p + 8), t, _CMP_GE_OQ));
    __m256 b = _mm256_or_ps(_mm256_cmp_ps(_mm256_loadu_ps(p + 16), t, _CMP_GE_OQ),
                            _mm256_cmp_ps(_mm256_loadu_ps(p + 24), t, _CMP_GE_OQ));
    return _mm256_movemask_ps(_mm256_or_ps(a, b)) != 0;
#elif defined(POSEFAST_SSE2)
    /* (one comparison per load and a tree of ors: a tree of maxima took fewer
     * instructions but longer, its chain being three times as long) */
    __m128 t = _mm_set1_ps(thr);
    __m128 a = _mm_or_ps(_mm_cmpge_ps(_mm_loadu_ps(p), t), _mm_cmpge_ps(_mm_loadu_ps(p + 4), t));
    __m128 b = _mm_or_ps(_mm_cmpge_ps(_mm_loadu_ps(p + 8), t), _mm_cmpge_ps(_mm_loadu_ps(p + 12), t));
    __m128 c = _mm_or_ps(_mm_cmpge_ps(_mm_loadu_ps(p + 16), t), _mm_cmpge_ps(_mm_loadu_ps(p + 20), t));
    __m128 d = _mm_or_ps(_mm_cmpge_ps(_mm_loadu_ps(p + 24), t), _mm_cmpge_ps(_mm_loadu_ps(p + 28), t));
    return _mm_movemask_ps(_mm_or_ps(_mm_or_ps(a, b), _mm_or_ps(c, d))) != 0;
#elif defined(POSEFAST_NEON)
    float32x4_t t = vdupq_n_f32(thr);
    uint32x4_t a = vorrq_u32(vcgeq_f32(vld1q_f32(p), t), vcgeq_f32(vld1q_f32(p + 4), t));
    uint32x4_t b = vorrq_u32(vcgeq_f32(vld1q_f32(p + 8), t), vcgeq_f32(vld1q_f32(p + 12), t));
    uint32x4_t c = vorrq_u32(vcgeq_f32(vld1q_f32(p + 16), t), vcgeq_f32(vld1q_f32(p + 20), t));
    uint32x4_t d = vorrq_u32(vcgeq_f32(vld1q_f32(p + 24), t), vcgeq_f32(vld1q_f32(p + 28), t));
    return vmaxvq_u32(vorrq_u32(vorrq_u32(a, b), vorrq_u32(c, d))) != 0;
#else
    return posefast_any_above_f32(p, 32, thr);
#endif
}

/* Bit k set where key k of the 17 contiguous float32 keys at p is >= thr. */
static inline uint32_t posefast_cell_above_f32(const float* p, float thr)
{
#if defined(POSEFAST_SSE2)
    __m128 t = _mm_set1_ps(thr);
    uint32_t m = (uint32_t)_mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(p), t))
                 | (uint32_t)_mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(p + 4), t)) << 4
                 | (uint32_t)_mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(p + 8), t)) << 8
                 | (uint32_t)_mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(p + 12), t)) << 12;
    return m | (uint32_t)(p[16] >= thr) << 16;
#elif defined(POSEFAST_NEON)
    float32x4_t t = vdupq_n_f32(thr);
    uint32_t m = posefast_neon_bits8(vcgeq_f32(vld1q_f32(p), t), vcgeq_f32(vld1q_f32(p + 4), t))
                 | posefast_neon_bits8(vcgeq_f32(vld1q_f32(p + 8), t),
                                       vcgeq_f32(vld1q_f32(p + 12), t)) << 8;
    return m | (uint32_t)(p[16] >= thr) << 16;
#else
    uint32_t m = 0;
    for (int k = 0; k < POSEFAST_K; k++) m |= (uint32_t)(p[k] >= thr) << k;
    return m;
#endif
}

/* posefast_run_maxima_u8 for float32 keys, 8 at a time: bit j set where key j of the 8
 * at p (inside a HWC row whose cells are contiguous, all 8 neighbours present; rows sy
 * bytes apart) is >= thr and no smaller than any neighbour that is not NaN. */
static inline uint32_t posefast_run_maxima_f32(const float* p, Py_ssize_t sy, float thr)
{
#if defined(POSEFAST_AVX2)
    /* the 8 keys in one register; maxps keeps its second operand, the running
     * maximum, when a neighbour is NaN */
    __m256 t = _mm256_set1_ps(thr);
    __m256 a = _mm256_loadu_ps(p), m = t;
    const char* c = (const char*)p;
    if (!_mm256_movemask_ps(_mm256_cmp_ps(a, t, _CMP_GE_OQ)))
        return 0;
#define POSEFAST_NB8_F32(off) m = _mm256_max_ps(_mm256_loadu_ps((const float*)(c + (off))), m);
    POSEFAST_NB8_F32(-4 * POSEFAST_K) POSEFAST_NB8_F32(4 * POSEFAST_K)
    if (!_mm256_movemask_ps(_mm256_cmp_ps(a, m, _CMP_GE_OQ)))
        return 0;
    POSEFAST_NB8_F32(-sy - 4 * POSEFAST_K) POSEFAST_NB8_F32(-sy) POSEFAST_NB8_F32(-sy + 4 * POSEFAST_K)
    POSEFAST_NB8_F32(sy - 4 * POSEFAST_K) POSEFAST_NB8_F32(sy) POSEFAST_NB8_F32(sy + 4 * POSEFAST_K)
#undef POSEFAST_NB8_F32
    return (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(a, m, _CMP_GE_OQ));
#elif defined(POSEFAST_SSE2)
    __m128 t = _mm_set1_ps(thr);
    __m128 a = _mm_loadu_ps(p), b = _mm_loadu_ps(p + 4);
    __m128 ma = t, mb = t;
    const char* c = (const char*)p;
    if (!_mm_movemask_ps(_mm_or_ps(_mm_cmpge_ps(a, t), _mm_cmpge_ps(b, t))))
        return 0;
#define POSEFAST_NB_F32(off)                                                            \
    ma = _mm_max_ps(_mm_loadu_ps((const float*)(c + (off))), ma);                       \
    mb = _mm_max_ps(_mm_loadu_ps((const float*)(c + (off)) + 4), mb);
    /* the left and right neighbours first: few keys above the threshold are maxima
     * along their row, and the other six loads are left out for the rest */
    POSEFAST_NB_F32(-4 * POSEFAST_K) POSEFAST_NB_F32(4 * POSEFAST_K)
    if (!_mm_movemask_ps(_mm_or_ps(_mm_cmpge_ps(a, ma), _mm_cmpge_ps(b, mb))))
        return 0;
    POSEFAST_NB_F32(-sy - 4 * POSEFAST_K) POSEFAST_NB_F32(-sy) POSEFAST_NB_F32(-sy + 4 * POSEFAST_K)
    POSEFAST_NB_F32(sy - 4 * POSEFAST_K) POSEFAST_NB_F32(sy) POSEFAST_NB_F32(sy + 4 * POSEFAST_K)
#undef POSEFAST_NB_F32
    return (uint32_t)_mm_movemask_ps(_mm_cmpge_ps(a, ma))
           | ((uint32_t)_mm_movemask_ps(_mm_cmpge_ps(b, mb)) << 4);
#elif defined(POSEFAST_NEON)
    float32x4_t t = vdupq_n_f32(thr);
    float32x4_t a = vld1q_f32(p), b = vld1q_f32(p + 4);
    float32x4_t ma = t, mb = t;
    const char* c = (const char*)p;
    if (!(vmaxvq_u32(vorrq_u32(vcgeq_f32(a, t), vcgeq_f32(b, t)))))
        return 0;
#define POSEFAST_NB_F32(off)                                                            \
    ma = vmaxnmq_f32(vld1q_f32((const float*)(c + (off))), ma);                         \
    mb = vmaxnmq_f32(vld1q_f32((const float*)(c + (off)) + 4), mb);
    POSEFAST_NB_F32(-4 * POSEFAST_K) POSEFAST_NB_F32(4 * POSEFAST_K)
    if (!(vmaxvq_u32(vorrq_u32(vcgeq_f32(a, ma), vcgeq_f32(b, mb)))))
        return 0;
    POSEFAST_NB_F32(-sy - 4 * POSEFAST_K) POSEFAST_NB_F32(-sy) POSEFAST_NB_F32(-sy + 4 * POSEFAST_K)
    POSEFAST_NB_F32(sy - 4 * POSEFAST_K) POSEFAST_NB_F32(sy) POSEFAST_NB_F32(sy + 4 * POSEFAST_K)
#undef POSEFAST_NB_F32
    return posefast_neon_bits8(vcgeq_f32(a, ma), vcgeq_f32(b, mb));
#else
    uint32_t bits = 0;
    const char* c = (const char*)p;
    const Py_ssize_t nb[8] = {-sy - 4 * POSEFAST_K, -sy, -sy + 4 * POSEFAST_K, -4 * POSEFAST_K,
                              4 * POSEFAST_K, sy - 4 * POSEFAST_K, sy, sy + 4 * POSEFAST_K};
    for (int j = 0; j < 8; j++) {
        float m = thr, v = p[j];
        for (int i = 0; i < 8; i++) {
            float q = ((const float*)(c + nb[i]))[j];
            m = q > m ? q : m;
        }
        bits |= (uint32_t)(v >= m) << j;
    }
    return bits;
#endif
}

/* float16 keys compared without converting them: a half's bits v, read as a signed
 * 16-bit integer after flipping the magnitude bits of negative values
 * (posefast_f16_order1), order as the values do, -0 just below +0, NaN outside
 * [-inf, +inf] on either side. posefast_f16_threshold gives the smallest such order
 * whose value is >= key_thr (0 when none is: then nothing passes); a key passes when
 * its order is >= that and it is not NaN. */
static inline int16_t posefast_f16_order1(uint16_t v)
{
    return (int16_t)(v ^ ((v & 0x8000u) ? 0x7fffu : 0u));
}

static inline int posefast_f16_passes1(uint16_t v, int16_t t)
{
    return (v & 0x7fffu) <= 0x7c00u && posefast_f16_order1(v) >= t;
}

static inline int posefast_f16_threshold(double key_thr, int16_t* t)
{
    int lo = -31745, hi = 31744;  /* the orders of -inf and +inf */
    if (!(posefast_half_to_float((uint16_t)hi) >= key_thr))
        return 0;
    while (lo < hi) {  /* the first order whose value passes: the test is monotonic */
        int mid = lo + (hi - lo) / 2;
        uint16_t bits = (uint16_t)(mid < 0 ? ((uint16_t)(int16_t)mid ^ 0x7fffu) : (unsigned)mid);
        if (posefast_half_to_float(bits) >= key_thr)
            hi = mid;
        else
            lo = mid + 1;
    }
    *t = (int16_t)lo;
    return 1;
}

/* Bit k set where key k of the 16 contiguous float16 keys (bits) at p passes the
 * threshold order t of posefast_f16_threshold. */
static inline uint32_t posefast_f16_mask16(const uint16_t* p, int16_t t)
{
#if defined(POSEFAST_SSE2)
    __m128i tv = _mm_set1_epi16(t), mag = _mm_set1_epi16(0x7fff), inf = _mm_set1_epi16(0x7c00);
    __m128i a = _mm_loadu_si128((const __m128i*)p), b = _mm_loadu_si128((const __m128i*)(p + 8));
    /* below the threshold, or NaN (magnitude above infinity's) */
#define POSEFAST_F16_FAILS(v)                                                           \
    _mm_or_si128(_mm_cmpgt_epi16(tv, _mm_xor_si128(v, _mm_and_si128(_mm_srai_epi16(v, 15), mag))), \
                 _mm_cmpgt_epi16(_mm_and_si128(v, mag), inf))
    uint32_t m = ~(uint32_t)_mm_movemask_epi8(_mm_packs_epi16(POSEFAST_F16_FAILS(a),
                                                              POSEFAST_F16_FAILS(b))) & 0xffffu;
#undef POSEFAST_F16_FAILS
    return m;
#elif defined(POSEFAST_NEON)
    int16x8_t tv = vdupq_n_s16(t);
    int16x8_t mag = vdupq_n_s16(0x7fff), inf = vdupq_n_s16(0x7c00);
    int16x8_t a = vreinterpretq_s16_u16(vld1q_u16(p)), b = vreinterpretq_s16_u16(vld1q_u16(p + 8));
#define POSEFAST_F16_PASSES(v)                                                          \
    vandq_u16(vcgeq_s16(veorq_s16(v, vandq_s16(vshrq_n_s16(v, 15), mag)), tv),           \
              vcleq_s16(vandq_s16(v, mag), inf))
    uint32_t m = posefast_neon_bits16(vcombine_u8(vmovn_u16(POSEFAST_F16_PASSES(a)),
                                                  vmovn_u16(POSEFAST_F16_PASSES(b))));
#undef POSEFAST_F16_PASSES
    return m;
#else
    uint32_t m = 0;
    for (int k = 0; k < 16; k++)
        m |= (uint32_t)posefast_f16_passes1(p[k], t) << k;
    return m;
#endif
}

/* The same for the 17 keys of a cell, and for 32 keys (posefast_mask32_*'s). */
static inline uint32_t posefast_cell_above_f16(const uint16_t* p, int16_t t)
{
    return posefast_f16_mask16(p, t) | (uint32_t)posefast_f16_passes1(p[16], t) << 16;
}

static inline uint32_t posefast_mask32_f16(const uint16_t* p, int16_t t)
{
    return posefast_f16_mask16(p, t) | posefast_f16_mask16(p + 16, t) << 16;
}

/* The smallest float whose value, widened to double, is >= t: comparing floats with it
 * selects exactly the values a comparison in double would. */
static inline float posefast_float_at_least(double t)
{
    float f;
    if (t != t) return NAN;
    if (t > 3.4028234663852886e38) return INFINITY;
    f = (float)t;
    if ((double)f < t) f = nextafterf(f, INFINITY);
    return f;
}
#endif
