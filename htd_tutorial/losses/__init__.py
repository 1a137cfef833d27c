"""Loss functions: BPR (the base task) and the distillation losses of the course.

- :mod:`.bpr`: ``bpr_loss``, the ranking loss every model trains with.
- :mod:`.ftd`: Full Topology Distillation (fast Gram-matrix form and the n x n reference).
- :mod:`.htd`: Hierarchical Topology Distillation read as the paper's Section 4.2 (options, group
  assignment, entity level, group level, ``HTDLoss``, naive twins); its fast machinery (the fused
  expert mixture, group bucketing, the sparse path) is in :mod:`._fast`.
- :mod:`.pointwise`: the point-wise baselines DE and FitNet-style hint regression.

Every loss is summed over the batch (not averaged) and takes ``(student, teacher)`` embeddings;
the teacher side never receives gradients.
"""
from .bpr import bpr_loss
from .ftd import FTDLoss, cosine_normalize, cosine_similarity_matrix, ftd_loss, ftd_loss_naive
from .htd import (GROUP_TOPOLOGIES, HTD_MODES, GroupAssignment, HTDLoss, HTDOptions, entity_topology,
                  entity_topology_naive, expert_mixture_naive, group_level_topology, group_level_topology_naive,
                  group_prototypes, gumbel_temperature, is_item_group, joint_groups)
from .pointwise import DELoss, FitNetLoss, fitnet_loss

__all__ = [
    "bpr_loss",
    "FTDLoss", "cosine_normalize", "cosine_similarity_matrix", "ftd_loss", "ftd_loss_naive",
    "GROUP_TOPOLOGIES", "HTD_MODES", "GroupAssignment", "HTDLoss", "HTDOptions", "entity_topology",
    "entity_topology_naive", "expert_mixture_naive", "group_level_topology", "group_level_topology_naive",
    "group_prototypes", "gumbel_temperature", "is_item_group", "joint_groups",
    "DELoss", "FitNetLoss", "fitnet_loss",
]
