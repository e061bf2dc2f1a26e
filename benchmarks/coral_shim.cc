// A C ABI around Coral's C++ PoseNet decoder (google-coral/edgetpu,
// src/cpp/posenet/posenet_decoder.cc), so that bench_cpp_decoder.py can time it with
// ctypes in the same process as posefast. Coral's sources are not part of posefast:
// the benchmark compiles this file together with a checkout of theirs.
//
// coral_op does what Coral's TF Lite custom op does per frame (posenet_decoder_op.cc,
// Eval): dequantise the three uint8 tensors to float, offsets also divided by the
// stride, then DecodeAllPoses with 5 refinement steps and nms_radius / stride.
// coral_decode is DecodeAllPoses alone, on float tensors already in cells.
#include <cstdint>
#include <vector>

#include "src/cpp/posenet/posenet_decoder.h"

using coral::posenet_decoder_op::DecodeAllPoses;
using coral::posenet_decoder_op::PoseKeypoints;
using coral::posenet_decoder_op::PoseKeypointScores;

namespace {

// As the op's DequantizeTensor: (q - zero_point) * scale * extra_scale, in float.
void dequantize(const uint8_t* src, size_t n, float scale, int zero_point,
                float extra_scale, std::vector<float>* dst) {
  dst->resize(n);
  const float zp = static_cast<float>(zero_point);
  const float s = scale * extra_scale;
  float* d = dst->data();
  for (size_t i = 0; i < n; ++i) d[i] = (src[i] - zp) * s;
}

}  // namespace

extern "C" {

// Float tensors, HWC, dense: scores (h, w, 17) logits, shorts (h, w, 34) and mids
// (h, w, 64) in cells. Outputs: keypoints (max_detections, 17, 2) y/x pixels,
// keypoint_scores (max_detections, 17), pose_scores (max_detections). Returns the count.
int coral_decode(const float* scores, const float* shorts, const float* mids, int height,
                 int width, int max_detections, float score_threshold,
                 float nms_radius_px, int stride, float* keypoints,
                 float* keypoint_scores, float* pose_scores) {
  return DecodeAllPoses(scores, shorts, mids, height, width, max_detections,
                        score_threshold, 5, nms_radius_px / stride, stride,
                        reinterpret_cast<PoseKeypoints*>(keypoints),
                        reinterpret_cast<PoseKeypointScores*>(keypoint_scores),
                        pose_scores);
}

// uint8 tensors as the model emits them (dense HWC; mids the 64-channel tensor), each
// with its scale and zero point; the same outputs as coral_decode.
int coral_op(const uint8_t* scores, float scores_scale, int scores_zp,
             const uint8_t* shorts, float shorts_scale, int shorts_zp,
             const uint8_t* mids, float mids_scale, int mids_zp, int height, int width,
             int max_detections, float score_threshold, float nms_radius_px, int stride,
             float* keypoints, float* keypoint_scores, float* pose_scores) {
  // The op keeps its float tensors in the interpreter's arena between frames; these
  // buffers play that part, so no allocation is timed after the first call.
  static thread_local std::vector<float> s, o, m;
  const size_t cells = static_cast<size_t>(height) * width;
  dequantize(scores, cells * 17, scores_scale, scores_zp, 1.0f, &s);
  dequantize(shorts, cells * 34, shorts_scale, shorts_zp, 1.0f / stride, &o);
  dequantize(mids, cells * 64, mids_scale, mids_zp, 1.0f / stride, &m);
  return coral_decode(s.data(), o.data(), m.data(), height, width, max_detections,
                      score_threshold, nms_radius_px, stride, keypoints,
                      keypoint_scores, pose_scores);
}

}  // extern "C"
