import numpy as np
import numpy.typing as npt

def match(order: npt.NDArray[np.int64], start: npt.NDArray[np.int64], count: npt.NDArray[np.int64],
          dboxes: npt.NDArray[np.float64], gboxes: npt.NDArray[np.float64], gdiff: npt.NDArray[np.uint8],
          threshold: float, offset: float, strict: bool) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
