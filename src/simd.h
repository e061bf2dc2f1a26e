/* Which vector instructions the hot loops of dense_scan.h and pairs.h use, decided at
 * compile time from the target's baseline, never from the build machine: SSE2 on
 * x86-64 (every x86-64 CPU has it), NEON (Advanced SIMD) on aarch64 (every aarch64 CPU
 * has it); plain C elsewhere, or everywhere with -DPOSEFAST_NO_SIMD, so that the
 * fallbacks can be built and tested on any machine. The three give the same results
 * bit for bit (no fused multiply-add: setup.py builds with -ffp-contract=off). */
#ifndef POSEFAST_SIMD_H
#define POSEFAST_SIMD_H
#include <stdint.h>

#if !defined(POSEFAST_NO_SIMD) && (defined(__SSE2__) || defined(_M_X64))
#define POSEFAST_SSE2 1
#include <emmintrin.h>
/* The second build of the core on x86-64 (posefast._core_avx2, compiled with -mavx2
 * -mf16c and loaded only where the CPU has both: posefast.decode) also takes the AVX2
 * paths of dense_scan.h and converts halves with F16C (half.h); everything else is
 * the SSE2 code, which the compiler then encodes with VEX. No FMA in either: neither
 * flag enables it. */
#if defined(__AVX2__)
#define POSEFAST_AVX2 1
#include <immintrin.h>
#define POSEFAST_SIMD_NAME "avx2"
#else
#define POSEFAST_SIMD_NAME "sse2"
#endif
#elif !defined(POSEFAST_NO_SIMD) && (defined(__aarch64__) || defined(_M_ARM64))
#define POSEFAST_NEON 1
#include <arm_neon.h>
#define POSEFAST_SIMD_NAME "neon"

/* NEON has no movemask: bit j set where byte j of a comparison result (all ones or
 * zero) is set, for 16 bytes; each half weighted 1, 2, 4, ... 128 and summed. */
static inline uint32_t posefast_neon_bits16(uint8x16_t m)
{
    static const uint8_t weights[16] = {1, 2, 4, 8, 16, 32, 64, 128,
                                        1, 2, 4, 8, 16, 32, 64, 128};
    uint8x16_t b = vandq_u8(m, vld1q_u8(weights));
    return (uint32_t)vaddv_u8(vget_low_u8(b)) | ((uint32_t)vaddv_u8(vget_high_u8(b)) << 8);
}

/* The same for 8 lanes of 32 bits (two comparison results of 4 floats). */
static inline uint32_t posefast_neon_bits8(uint32x4_t lo, uint32x4_t hi)
{
    static const uint8_t weights[8] = {1, 2, 4, 8, 16, 32, 64, 128};
    uint8x8_t m = vmovn_u16(vcombine_u16(vmovn_u32(lo), vmovn_u32(hi)));
    return (uint32_t)vaddv_u8(vand_u8(m, vld1_u8(weights)));
}
#else
#define POSEFAST_SIMD_NAME "none"
#endif

/* Whether this CPU (and its operating system, which must save the 256-bit registers)
 * can run the AVX2 build (AVX2 and F16C): the baseline build asks before
 * posefast.decode loads the other. */
static inline int posefast_cpu_has_avx2(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("f16c") != 0;
#else
    return 0;
#endif
}
#endif
