/* IEEE 754 binary16 -> binary32, so float16 tensors are read in place without
 * linking numpy's npymath. Exact for every half value (subnormals, inf, NaN). */
#ifndef POSEFAST_HALF_H
#define POSEFAST_HALF_H
#include <stdint.h>
#include <string.h>

#if defined(__F16C__) && !defined(POSEFAST_NO_SIMD)
#include <immintrin.h>
/* (the AVX2 build: one instruction; exact as well, a signalling NaN made quiet) */
static inline float posefast_half_to_float(uint16_t h)
{
    return _cvtsh_ss(h);
}
#else
static inline float posefast_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    float f;
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exactly representable in float */
        f = (float)mant * (1.0f / 16777216.0f);
        return sign ? -f : f;
    }
    if (exp == 31)
        bits = sign | 0x7f800000u | (mant << 13);
    else
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    memcpy(&f, &bits, sizeof f);
    return f;
}
#endif
#endif
