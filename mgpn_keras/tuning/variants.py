"""The variants of the paper's ablation studies (Sec. 4.5) as config overrides.

Each variant changes one thing of a base config (MGPN with the preset's settings):

    group     key            paper                          overrides
    Table 3   model1         (1) no sec-enc/fuse/comp.      all three components off
              model2         (2) + fine-grained encoders    conditioned interaction, comparison off
              model3         (3) + conditioned interaction  comparison off
              model4         (4) (1) + choice comparison    fine-grained, conditioned interaction off
              mgpn           (5) MGPN                       (none)
    Table 4   lstm           w/ Bi-LSTM                     coarse_encoder = lstm
              transformer    w/ Transformer                 coarse_encoder = transformer
    Fig. 4    content        content-level only (A_C)       candidate_features = content
              boundary       boundary-level only (A_B)      candidate_features = boundary
    Fig. 5    stacked_conv   SC (2D-TAN's convolutions)     comparison = stacked_conv
              non_local      NL (non-local blocks)          comparison = non_local
              hidden_half    MGPN128 (for 256)              hidden_size = base / 2
              hidden_double  MGPN512 (for 256)              hidden_size = base * 2

The paper's hidden sizes are 128, 256 and 512 around its 256; here they are half and
twice the base config's (32, 64 and 128 for the synthetic preset).
"""

from __future__ import annotations

from dataclasses import dataclass

from mgpn_keras.config import Config, apply_overrides


@dataclass(frozen=True)
class Variant:
    key: str
    group: str  # "Table 3", "Table 4", "Fig. 4" or "Fig. 5"
    label: str
    overrides: dict

    def config(self, base: Config) -> Config:
        return apply_overrides(base, self.overrides)


def _components(fine: bool, cond: bool, comp: bool) -> dict:
    return {"model.use_fine_grained": fine, "model.use_conditioned_interaction": cond,
            "model.use_choice_comparison": comp}


def paper_variants(base: Config) -> list[Variant]:
    """The ablation variants of `base`, in the paper's order (see the module docstring)."""
    hidden = base.model.hidden_size
    enc, feat, comp = "model.coarse_encoder", "model.candidate_features", "model.comparison"
    return [
        Variant("model1", "Table 3", "(1) coarse encoders, co-attention, ranker",
                _components(False, False, False)),
        Variant("model2", "Table 3", "(2) + fine-grained encoders", _components(True, False, False)),
        Variant("model3", "Table 3", "(3) + conditioned interaction", _components(True, True, False)),
        Variant("model4", "Table 3", "(4) (1) + choice comparison", _components(False, False, True)),
        Variant("mgpn", "Table 3", "(5) MGPN", {}),
        Variant("lstm", "Table 4", "Bi-LSTM coarse encoder", {enc: "lstm"}),
        Variant("transformer", "Table 4", "Transformer coarse encoder", {enc: "transformer"}),
        Variant("content", "Fig. 4", "content-level candidates only", {feat: "content"}),
        Variant("boundary", "Fig. 4", "boundary-level candidates only", {feat: "boundary"}),
        Variant("stacked_conv", "Fig. 5", "stacked convolutions (2D-TAN, SC)", {comp: "stacked_conv"}),
        Variant("non_local", "Fig. 5", "non-local blocks (NL)", {comp: "non_local"}),
        Variant("hidden_half", "Fig. 5", f"hidden size {hidden // 2}", {"model.hidden_size": hidden // 2}),
        Variant("hidden_double", "Fig. 5", f"hidden size {hidden * 2}", {"model.hidden_size": hidden * 2}),
    ]


def variant_by_key(base: Config, key: str) -> Variant:
    variants = {v.key: v for v in paper_variants(base)}
    if key not in variants:
        raise ValueError(f"unknown variant {key!r}; expected one of {list(variants)}")
    return variants[key]
