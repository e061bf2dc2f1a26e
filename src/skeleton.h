/* The PoseNet skeleton (posefast/skeleton.py SKELETON), in the models' displacement
 * channel order: forward channel i points parent -> child of edge i, backward channel
 * i points child -> parent. */
#ifndef POSEFAST_SKELETON_H
#define POSEFAST_SKELETON_H

#define POSEFAST_NUM_KEYPOINTS 17
#define POSEFAST_NUM_EDGES 16

static const int posefast_edge_parent[POSEFAST_NUM_EDGES] =
    {0, 1, 0, 2, 0, 5, 7, 5, 11, 13, 0, 6, 8, 6, 12, 14};
static const int posefast_edge_child[POSEFAST_NUM_EDGES] =
    {1, 3, 2, 4, 5, 7, 9, 11, 13, 15, 6, 8, 10, 12, 14, 16};

/* The neighbours of each keypoint in the skeleton tree: (edge, keypoint, forward),
 * forward = 1 where the keypoint is the edge's child (read the forward displacement),
 * 0 where it is the parent (the backward one). Derived from the two tables above. */
#define POSEFAST_MAX_NEIGHBOURS 4
typedef struct { int edge, target, forward; } posefast_neighbour;
static const int posefast_neighbour_count[POSEFAST_NUM_KEYPOINTS] = {4, 2, 2, 1, 1, 3, 3, 2, 2, 1, 1, 2, 2, 2, 2, 1, 1};
static const posefast_neighbour posefast_neighbours[POSEFAST_NUM_KEYPOINTS][POSEFAST_MAX_NEIGHBOURS] = {
    {{0, 1, 1}, {2, 2, 1}, {4, 5, 1}, {10, 6, 1}},  /* 0 */
    {{0, 0, 0}, {1, 3, 1}, {0, 0, 0}, {0, 0, 0}},  /* 1 */
    {{2, 0, 0}, {3, 4, 1}, {0, 0, 0}, {0, 0, 0}},  /* 2 */
    {{1, 1, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}},  /* 3 */
    {{3, 2, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}},  /* 4 */
    {{4, 0, 0}, {5, 7, 1}, {7, 11, 1}, {0, 0, 0}},  /* 5 */
    {{10, 0, 0}, {11, 8, 1}, {13, 12, 1}, {0, 0, 0}},  /* 6 */
    {{5, 5, 0}, {6, 9, 1}, {0, 0, 0}, {0, 0, 0}},  /* 7 */
    {{11, 6, 0}, {12, 10, 1}, {0, 0, 0}, {0, 0, 0}},  /* 8 */
    {{6, 7, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}},  /* 9 */
    {{12, 8, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}},  /* 10 */
    {{7, 5, 0}, {8, 13, 1}, {0, 0, 0}, {0, 0, 0}},  /* 11 */
    {{13, 6, 0}, {14, 14, 1}, {0, 0, 0}, {0, 0, 0}},  /* 12 */
    {{8, 11, 0}, {9, 15, 1}, {0, 0, 0}, {0, 0, 0}},  /* 13 */
    {{14, 12, 0}, {15, 16, 1}, {0, 0, 0}, {0, 0, 0}},  /* 14 */
    {{9, 13, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}},  /* 15 */
    {{15, 14, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}},  /* 16 */
};
#endif
