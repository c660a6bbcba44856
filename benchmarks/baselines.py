"""Classical novelty detectors to compare the LSTM autoencoder against.

Each follows scikit-learn's shape: parameters in ``__init__``, ``fit(X)`` on
the scaled healthy period, learned state in trailing-underscore attributes,
and ``score_samples(X)`` returning an anomaly score per snapshot (higher =
more anomalous). The comparison then treats every method alike: the kit's
threshold rule on its training scores, the kit's debounce, the same split.
"""
from __future__ import annotations

import numpy as np
from sklearn.covariance import EmpiricalCovariance
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest


class ZScoreDetector:
    """Largest per-channel |z| against the healthy mean and standard deviation.

    The simplest thing a reliability engineer would set up by hand: one alarm
    level per channel, here as a number of healthy standard deviations.
    """

    def fit(self, X: np.ndarray) -> "ZScoreDetector":
        X = np.asarray(X, dtype=np.float64)
        self.mean_ = X.mean(axis=0)
        self.std_ = X.std(axis=0, ddof=1)
        if (self.std_ <= 0).any():
            raise ValueError("a channel is constant in the training period; z-scores are undefined")
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        return np.abs((np.asarray(X) - self.mean_) / self.std_).max(axis=1)


class PCAMahalanobis:
    """Mahalanobis distance in the space of the first principal components.

    The method of the well-known condition-monitoring tutorial on this data:
    PCA on the scaled features, then the distance of each snapshot from the
    healthy cloud, measured with the healthy covariance of the components.
    """

    def __init__(self, n_components: int = 2) -> None:
        self.n_components = n_components

    def fit(self, X: np.ndarray) -> "PCAMahalanobis":
        self.pca_ = PCA(n_components=self.n_components, svd_solver="full").fit(X)
        self.cov_ = EmpiricalCovariance().fit(self.pca_.transform(X))
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        return np.sqrt(self.cov_.mahalanobis(self.pca_.transform(X)))


class IsolationForestDetector:
    """scikit-learn's IsolationForest, its score turned so that higher is more anomalous."""

    def __init__(self, n_estimators: int = 200, random_state: int = 0) -> None:
        self.n_estimators = n_estimators
        self.random_state = random_state

    def fit(self, X: np.ndarray) -> "IsolationForestDetector":
        self.forest_ = IsolationForest(n_estimators=self.n_estimators,
                                       random_state=self.random_state).fit(X)
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        return -self.forest_.score_samples(X)


class DenseAutoencoder:
    """A small dense autoencoder (f -> 8 -> 2 -> 8 -> f), trained like the LSTM one.

    It asks whether the recurrent layers earn their keep when T = 1, where an
    LSTM sees a single time step and is a gated dense network in effect.
    """

    def __init__(self, epochs: int = 100, batch_size: int = 10, seed: int = 0) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.seed = seed

    def fit(self, X: np.ndarray) -> "DenseAutoencoder":
        import keras
        from keras import layers

        keras.utils.set_random_seed(self.seed)
        f = X.shape[1]
        model = keras.Sequential([
            keras.Input(shape=(f,)),
            layers.Dense(8, activation="relu"),
            layers.Dense(2, activation="relu"),
            layers.Dense(8, activation="relu"),
            layers.Dense(f),
        ])
        model.compile(optimizer="adam", loss="mae", jit_compile=False)
        model.fit(X, X, epochs=self.epochs, batch_size=self.batch_size, validation_split=0.05,
                  verbose=0, shuffle=True)
        self.model_ = model
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        return np.abs(self.model_.predict_on_batch(X) - X).mean(axis=1)
