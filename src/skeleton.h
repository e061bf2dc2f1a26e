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
#endif
