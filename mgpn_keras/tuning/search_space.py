"""The tuner's search space: which config switches a search varies, and over what values.

Each searched hyperparameter is named after the config field it sets, so a trial's
values map one to one onto `model.*` / `train.*` overrides:

    search name   hyperparameters (config fields)                       paper
    hidden        model.hidden_size in --hidden-sizes (128, 256, 512)   Fig. 5
    encoder       model.coarse_encoder in gru, lstm, transformer        Table 4
    comparison    model.comparison in group_conv, stacked_conv,         Fig. 5
                  non_local
    features      model.candidate_features in both, content, boundary   Fig. 4
    components    model.use_fine_grained, model.use_conditioned_        Table 3
                  interaction, model.use_choice_comparison (booleans)
    lr            train.learning_rate in --learning-rates
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mgpn_keras.config import (CANDIDATE_FEATURES, COARSE_ENCODERS, COMPARISON_MODULES, Config,
                               apply_overrides)

DEFAULT_HIDDEN_SIZES = (128, 256, 512)  # paper Fig. 5
DEFAULT_LEARNING_RATES = (1e-3, 5e-4, 1e-4)
COMPONENTS = ("use_fine_grained", "use_conditioned_interaction", "use_choice_comparison")
SEARCH_NAMES = ("hidden", "encoder", "comparison", "features", "components", "lr")
# keras-tuner's Hyperband, BayesianOptimization and RandomSearch.
ALGORITHMS = ("hyperband", "bayesian", "random")


@dataclass
class SearchSpace:
    """The dimensions of a search; a None (or False) dimension keeps the base config's value.

    Attributes:
        hidden_sizes: values of model.hidden_size.
        learning_rates: values of train.learning_rate.
        coarse_encoders, comparisons, candidate_features: values of those model fields.
        components: search the three Table-3 component switches (each on or off).
    """

    hidden_sizes: list[int] | None = field(default_factory=lambda: list(DEFAULT_HIDDEN_SIZES))
    learning_rates: list[float] | None = None
    coarse_encoders: list[str] | None = None
    comparisons: list[str] | None = None
    candidate_features: list[str] | None = None
    components: bool = False

    @classmethod
    def from_names(cls, names, hidden_sizes=None, learning_rates=None) -> "SearchSpace":
        """A space from `--search` names (see the module docstring), e.g. "encoder,hidden".

        Args:
            names: an iterable of names, or a comma-separated string.
            hidden_sizes: the values of "hidden" (default 128, 256, 512).
            learning_rates: the values of "lr" (default 1e-3, 5e-4, 1e-4). Given without
                "lr" in `names`, they are searched too.
        """
        if isinstance(names, str):
            names = [n for n in (s.strip() for s in names.split(",")) if n]
        names = list(names)
        unknown = [n for n in names if n not in SEARCH_NAMES]
        if unknown:
            raise ValueError(f"--search: unknown name(s) {unknown}; expected a comma-separated "
                             f"subset of {list(SEARCH_NAMES)}")
        if not names and not learning_rates:
            raise ValueError(f"--search: nothing to search; name at least one of {list(SEARCH_NAMES)}")
        search_lr = "lr" in names or bool(learning_rates)
        hidden = [int(h) for h in (hidden_sizes or DEFAULT_HIDDEN_SIZES)]
        rates = [float(r) for r in (learning_rates or DEFAULT_LEARNING_RATES)]
        return cls(
            hidden_sizes=hidden if "hidden" in names else None,
            learning_rates=rates if search_lr else None,
            coarse_encoders=list(COARSE_ENCODERS) if "encoder" in names else None,
            comparisons=list(COMPARISON_MODULES) if "comparison" in names else None,
            candidate_features=list(CANDIDATE_FEATURES) if "features" in names else None,
            components="components" in names,
        )

    def names(self) -> list[str]:
        """The hyperparameter names, in the order `declare` registers them."""
        out = []
        if self.hidden_sizes:
            out.append("hidden_size")
        if self.coarse_encoders:
            out.append("coarse_encoder")
        if self.comparisons:
            out.append("comparison")
        if self.candidate_features:
            out.append("candidate_features")
        if self.components:
            out.extend(COMPONENTS)
        if self.learning_rates:
            out.append("learning_rate")
        return out

    def declare(self, hp) -> dict:
        """Register the dimensions on a keras_tuner.HyperParameters; returns their values."""
        values = {}
        if self.hidden_sizes:
            values["hidden_size"] = hp.Choice("hidden_size", [int(h) for h in self.hidden_sizes])
        if self.coarse_encoders:
            values["coarse_encoder"] = hp.Choice("coarse_encoder", list(self.coarse_encoders))
        if self.comparisons:
            values["comparison"] = hp.Choice("comparison", list(self.comparisons))
        if self.candidate_features:
            values["candidate_features"] = hp.Choice("candidate_features", list(self.candidate_features))
        if self.components:
            for name in COMPONENTS:
                values[name] = hp.Boolean(name, default=True)
        if self.learning_rates:
            values["learning_rate"] = hp.Choice("learning_rate", [float(r) for r in self.learning_rates])
        return values

    def overrides(self, values: dict) -> dict:
        """Config overrides (`{"model.hidden_size": 256, ...}`) for a trial's values.

        Keys that are not part of this space (e.g. Hyperband's `tuner/epochs`) are ignored.
        """
        out = {}
        for name in self.names():
            if name in values:
                section = "train" if name == "learning_rate" else "model"
                out[f"{section}.{name}"] = values[name]
        return out

    def config_for(self, base: Config, values: dict) -> Config:
        """`base` with a trial's values applied."""
        return apply_overrides(base, self.overrides(values))

    def check(self, base: Config) -> None:
        """Raise ValueError naming the first value that gives an invalid config with `base`.

        Each dimension is checked against the base config and against every value of the
        other dimensions that constrain it (hidden size with the groups, and with the
        Transformer's 4 heads).
        """
        hidden = self.hidden_sizes or [base.model.hidden_size]
        encoders = self.coarse_encoders or [base.model.coarse_encoder]
        for h in hidden:
            for encoder in encoders:
                try:
                    apply_overrides(base, {"model.hidden_size": h, "model.coarse_encoder": encoder})
                except ValueError as exc:
                    raise ValueError(f"search space: hidden size {h} with coarse encoder {encoder!r} "
                                     f"does not fit the config {base.name!r} (model.groups = "
                                     f"{base.model.groups}): {exc}") from None
        for name in self.names():
            if name == "hidden_size":
                continue
            choices = {"learning_rate": self.learning_rates, "coarse_encoder": self.coarse_encoders,
                       "comparison": self.comparisons, "candidate_features": self.candidate_features}
            for value in choices.get(name) or [True, False]:
                self.config_for(base, {name: value})

    def to_dict(self) -> dict:
        return {"hidden_size": self.hidden_sizes, "learning_rate": self.learning_rates,
                "coarse_encoder": self.coarse_encoders, "comparison": self.comparisons,
                "candidate_features": self.candidate_features, "components": self.components}
