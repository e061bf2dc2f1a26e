/* A (y, x) pair of doubles and the few operations the pose walk makes on it.
 *
 * A walk step moves a position by a bilinear sample of two channels (dy, dx) that share
 * one footprint: every weight and every sum is the same operation on y and on x. With
 * SSE2 (every x86-64 CPU) or NEON (every aarch64 CPU; simd.h) a pair is one register
 * and each of those operations one instruction for both, which cuts the instructions
 * of a refinement step by about a third; elsewhere it is a plain struct and the
 * compiler does what it can.
 *
 * Positions handed to posefast_pair_floor are clamped ones: finite, in [0, 2^31) (the
 * decoder refuses grids with more rows or columns than that).
 *
 * posefast_pair_floor also says which fractions are non-zero (bit 0: wy > 0, bit 1:
 * wx > 0). A corner whose weight is 0 must not count at all: 0 * NaN and 0 * inf are
 * NaN, and one non-finite value beside a keypoint would poison every sample that
 * touches its cell with weight 0 (a whole pose lost to one NaN neighbour). So the
 * caller reads such corners from the cell itself (which also keeps every read on the
 * grid) and uses the _edge mixes below, which drop the terms of weight 0 instead of
 * multiplying them: a position on a cell gives exactly that cell's value, inf
 * included. (uy = 1 - wy and ux = 1 - wx are never 0: fractions are < 1.) Positions
 * strictly inside a cell, nearly all of them, keep the plain mixes.
 */
#ifndef POSEFAST_PAIRS_H
#define POSEFAST_PAIRS_H

/* The bilinear mix of four single values at fractions (wy, wx), in the order of
 * posefast_pair_bilinear, terms of weight 0 dropped (see above). */
static inline double posefast_mix1_edge(double a, double b, double c, double d, double wy,
                                        double wx)
{
    double uy = 1.0 - wy, ux = 1.0 - wx;
    double top = ux * a, bottom;
    if (wx != 0.0)
        top += wx * b;
    if (wy == 0.0)
        return uy * top;
    bottom = ux * c;
    if (wx != 0.0)
        bottom += wx * d;
    return uy * top + wy * bottom;
}

#include "simd.h"

#if defined(POSEFAST_SSE2)

typedef __m128d posefast_pair;

/* (lo, hi) = (y, x) */
static inline posefast_pair posefast_pair_make(double lo, double hi)
{
    return _mm_set_pd(hi, lo);
}
static inline double posefast_pair_lo(posefast_pair a) { return _mm_cvtsd_f64(a); }
static inline double posefast_pair_hi(posefast_pair a)
{
    return _mm_cvtsd_f64(_mm_unpackhi_pd(a, a));
}

/* The integer parts of a clamped position and its fractions (wy, wx); returns which
 * fractions are > 0 (bit 0: wy, bit 1: wx). */
static inline int posefast_pair_floor(posefast_pair p, int* y0, int* x0, posefast_pair* frac)
{
    __m128i i = _mm_cvttpd_epi32(p);
    *y0 = _mm_cvtsi128_si32(i);
    *x0 = _mm_cvtsi128_si32(_mm_shuffle_epi32(i, 1));
    *frac = _mm_sub_pd(p, _mm_cvtepi32_pd(i));
    return _mm_movemask_pd(_mm_cmpgt_pd(*frac, _mm_setzero_pd()));
}

/* The bilinear mix of the corner pairs a (y0, x0), b (y0, x0 + 1), c (y0 + 1, x0),
 * d (y0 + 1, x0 + 1) at fractions frac = (wy, wx), in the reference's order:
 * (1 - wy) * ((1 - wx) * a + wx * b) + wy * ((1 - wx) * c + wx * d). */
static inline posefast_pair posefast_pair_bilinear(posefast_pair a, posefast_pair b,
                                                   posefast_pair c, posefast_pair d,
                                                   posefast_pair frac)
{
    __m128d u = _mm_sub_pd(_mm_set1_pd(1.0), frac);
    __m128d ux = _mm_unpackhi_pd(u, u), wx = _mm_unpackhi_pd(frac, frac);
    __m128d uy = _mm_unpacklo_pd(u, u), wy = _mm_unpacklo_pd(frac, frac);
    __m128d top = _mm_add_pd(_mm_mul_pd(ux, a), _mm_mul_pd(wx, b));
    __m128d bottom = _mm_add_pd(_mm_mul_pd(ux, c), _mm_mul_pd(wx, d));
    return _mm_add_pd(_mm_mul_pd(uy, top), _mm_mul_pd(wy, bottom));
}

/* The same where a fraction is 0: its terms are masked out instead of multiplied. */
static inline posefast_pair posefast_pair_bilinear_edge(posefast_pair a, posefast_pair b,
                                                        posefast_pair c, posefast_pair d,
                                                        posefast_pair frac)
{
    __m128d u = _mm_sub_pd(_mm_set1_pd(1.0), frac);
    __m128d used = _mm_cmpneq_pd(frac, _mm_setzero_pd());  /* all ones where w != 0 */
    __m128d ux = _mm_unpackhi_pd(u, u), wx = _mm_unpackhi_pd(frac, frac);
    __m128d uy = _mm_unpacklo_pd(u, u), wy = _mm_unpacklo_pd(frac, frac);
    __m128d mx = _mm_unpackhi_pd(used, used), my = _mm_unpacklo_pd(used, used);
    __m128d top = _mm_add_pd(_mm_mul_pd(ux, a), _mm_and_pd(_mm_mul_pd(wx, b), mx));
    __m128d bottom = _mm_add_pd(_mm_mul_pd(ux, c), _mm_and_pd(_mm_mul_pd(wx, d), mx));
    return _mm_add_pd(_mm_mul_pd(uy, top), _mm_and_pd(_mm_mul_pd(wy, bottom), my));
}

static inline posefast_pair posefast_pair_scale(posefast_pair a, double factor)
{
    return _mm_mul_pd(a, _mm_set1_pd(factor));
}

/* p + s, clamped to [0, hi] lane by lane; NaN goes to 0 (maxpd returns its second
 * operand when either is NaN), as geometry.clamp does. */
static inline posefast_pair posefast_pair_step(posefast_pair p, posefast_pair s, posefast_pair hi)
{
    return _mm_min_pd(_mm_max_pd(_mm_add_pd(p, s), _mm_setzero_pd()), hi);
}

#elif defined(POSEFAST_NEON)
/* The same with NEON's two-lane doubles, operation for operation. */
typedef float64x2_t posefast_pair;

static inline posefast_pair posefast_pair_make(double lo, double hi)
{
    return vcombine_f64(vdup_n_f64(lo), vdup_n_f64(hi));
}
static inline double posefast_pair_lo(posefast_pair a) { return vgetq_lane_f64(a, 0); }
static inline double posefast_pair_hi(posefast_pair a) { return vgetq_lane_f64(a, 1); }

static inline int posefast_pair_floor(posefast_pair p, int* y0, int* x0, posefast_pair* frac)
{
    int64x2_t i = vcvtq_s64_f64(p);  /* truncation: the floor of a clamped (>= 0) position */
    uint64x2_t nz;
    *y0 = (int)vgetq_lane_s64(i, 0);
    *x0 = (int)vgetq_lane_s64(i, 1);
    *frac = vsubq_f64(p, vcvtq_f64_s64(i));
    nz = vcgtq_f64(*frac, vdupq_n_f64(0.0));
    return (int)(vgetq_lane_u64(nz, 0) & 1) | (int)((vgetq_lane_u64(nz, 1) & 1) << 1);
}

static inline posefast_pair posefast_pair_bilinear(posefast_pair a, posefast_pair b,
                                                   posefast_pair c, posefast_pair d,
                                                   posefast_pair frac)
{
    float64x2_t u = vsubq_f64(vdupq_n_f64(1.0), frac);
    float64x2_t ux = vdupq_laneq_f64(u, 1), wx = vdupq_laneq_f64(frac, 1);
    float64x2_t uy = vdupq_laneq_f64(u, 0), wy = vdupq_laneq_f64(frac, 0);
    float64x2_t top = vaddq_f64(vmulq_f64(ux, a), vmulq_f64(wx, b));
    float64x2_t bottom = vaddq_f64(vmulq_f64(ux, c), vmulq_f64(wx, d));
    return vaddq_f64(vmulq_f64(uy, top), vmulq_f64(wy, bottom));
}

static inline posefast_pair posefast_pair_bilinear_edge(posefast_pair a, posefast_pair b,
                                                        posefast_pair c, posefast_pair d,
                                                        posefast_pair frac)
{
    float64x2_t u = vsubq_f64(vdupq_n_f64(1.0), frac);
    uint64x2_t used = vreinterpretq_u64_u32(vmvnq_u32(vreinterpretq_u32_u64(
        vceqq_f64(frac, vdupq_n_f64(0.0)))));  /* all ones where w != 0 */
    float64x2_t ux = vdupq_laneq_f64(u, 1), wx = vdupq_laneq_f64(frac, 1);
    float64x2_t uy = vdupq_laneq_f64(u, 0), wy = vdupq_laneq_f64(frac, 0);
    uint64x2_t mx = vdupq_laneq_u64(used, 1), my = vdupq_laneq_u64(used, 0);
#define POSEFAST_MASKED(v, m) vreinterpretq_f64_u64(vandq_u64(vreinterpretq_u64_f64(v), m))
    float64x2_t top = vaddq_f64(vmulq_f64(ux, a), POSEFAST_MASKED(vmulq_f64(wx, b), mx));
    float64x2_t bottom = vaddq_f64(vmulq_f64(ux, c), POSEFAST_MASKED(vmulq_f64(wx, d), mx));
    return vaddq_f64(vmulq_f64(uy, top), POSEFAST_MASKED(vmulq_f64(wy, bottom), my));
#undef POSEFAST_MASKED
}

static inline posefast_pair posefast_pair_scale(posefast_pair a, double factor)
{
    return vmulq_n_f64(a, factor);
}

/* p + s, clamped to [0, hi] lane by lane; NaN goes to 0 (vmaxnm returns the number
 * when one operand is NaN), as with SSE2 and as geometry.clamp does. */
static inline posefast_pair posefast_pair_step(posefast_pair p, posefast_pair s, posefast_pair hi)
{
    return vminq_f64(vmaxnmq_f64(vaddq_f64(p, s), vdupq_n_f64(0.0)), hi);
}

#else  /* no SIMD: the same operations on a struct */

typedef struct { double lo, hi; } posefast_pair;

static inline posefast_pair posefast_pair_make(double lo, double hi)
{
    posefast_pair r;
    r.lo = lo;
    r.hi = hi;
    return r;
}
static inline double posefast_pair_lo(posefast_pair a) { return a.lo; }
static inline double posefast_pair_hi(posefast_pair a) { return a.hi; }

static inline int posefast_pair_floor(posefast_pair p, int* y0, int* x0, posefast_pair* frac)
{
    *y0 = (int)p.lo;
    *x0 = (int)p.hi;
    frac->lo = p.lo - *y0;
    frac->hi = p.hi - *x0;
    return (frac->lo > 0.0) | ((frac->hi > 0.0) << 1);
}

static inline posefast_pair posefast_pair_bilinear(posefast_pair a, posefast_pair b,
                                                   posefast_pair c, posefast_pair d,
                                                   posefast_pair frac)
{
    double uy = 1.0 - frac.lo, ux = 1.0 - frac.hi, wy = frac.lo, wx = frac.hi;
    posefast_pair r;
    r.lo = uy * (ux * a.lo + wx * b.lo) + wy * (ux * c.lo + wx * d.lo);
    r.hi = uy * (ux * a.hi + wx * b.hi) + wy * (ux * c.hi + wx * d.hi);
    return r;
}

static inline posefast_pair posefast_pair_bilinear_edge(posefast_pair a, posefast_pair b,
                                                        posefast_pair c, posefast_pair d,
                                                        posefast_pair frac)
{
    posefast_pair r;
    r.lo = posefast_mix1_edge(a.lo, b.lo, c.lo, d.lo, frac.lo, frac.hi);
    r.hi = posefast_mix1_edge(a.hi, b.hi, c.hi, d.hi, frac.lo, frac.hi);
    return r;
}

static inline double posefast_pair_clamp1(double v, double hi)
{
    v = v > 0.0 ? v : 0.0;  /* NaN too */
    return v < hi ? v : hi;
}

static inline posefast_pair posefast_pair_scale(posefast_pair a, double factor)
{
    return posefast_pair_make(a.lo * factor, a.hi * factor);
}

static inline posefast_pair posefast_pair_step(posefast_pair p, posefast_pair s, posefast_pair hi)
{
    return posefast_pair_make(posefast_pair_clamp1(p.lo + s.lo, hi.lo),
                              posefast_pair_clamp1(p.hi + s.hi, hi.hi));
}
#endif

/* One channel's bilinear mix (the heatmap's logit), and the same where a fraction is 0. */
static inline double posefast_pair_mix(double a, double b, double c, double d,
                                       posefast_pair frac)
{
    double wy = posefast_pair_lo(frac), wx = posefast_pair_hi(frac);
    double uy = 1.0 - wy, ux = 1.0 - wx;
    return uy * (ux * a + wx * b) + wy * (ux * c + wx * d);
}
static inline double posefast_pair_mix_edge(double a, double b, double c, double d,
                                            posefast_pair frac)
{
    return posefast_mix1_edge(a, b, c, d, posefast_pair_lo(frac), posefast_pair_hi(frac));
}
#endif
