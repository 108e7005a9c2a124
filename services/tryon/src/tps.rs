//! Thin-plate splines: the smoothest mapping of the plane that takes each control point
//! exactly where it should go. The try-on fits one from points on the customer's body
//! to the matching points of the garment drawing and uses it to look up, for every
//! pixel of the photo, which pixel of the garment lands there: the torso follows her
//! shoulders and hips, and the sleeves turn down along her arms, which no single
//! affine map (a resize) can do.

/// A fitted spline from the plane to the plane.
#[derive(Debug, Clone)]
pub struct ThinPlateSpline {
    /// Control points, normalised.
    centres: Vec<[f64; 2]>,
    /// Kernel weights per control point, for x and y.
    weights: Vec<[f64; 2]>,
    /// Affine part: constant, x and y coefficients, for x and y.
    affine: [[f64; 2]; 3],
    /// Normalisation of inputs: subtract `offset`, divide by `scale`.
    offset: [f64; 2],
    scale: f64,
}

/// Why a spline could not be fitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TpsError {
    /// Fewer than three points, or the points and targets differ in number.
    #[error("a thin-plate spline needs at least 3 control points, one target each")]
    TooFewPoints,
    /// Points repeat or all lie on one line.
    #[error("the control points are degenerate (repeated or collinear)")]
    Degenerate,
}

/// The radial basis r² log r², written with the squared distance.
fn kernel(d2: f64) -> f64 {
    if d2 <= 1e-20 { 0.0 } else { d2 * d2.ln() }
}

impl ThinPlateSpline {
    /// Fits the spline with `from[i] ↦ to[i]`. `smoothing` ≥ 0 trades exactness for
    /// smoothness (0: interpolating).
    pub fn fit(from: &[[f64; 2]], to: &[[f64; 2]], smoothing: f64) -> Result<Self, TpsError> {
        let n = from.len();
        if n < 3 || to.len() != n {
            return Err(TpsError::TooFewPoints);
        }
        let mut offset = [0.0; 2];
        for p in from {
            offset[0] += p[0] / n as f64;
            offset[1] += p[1] / n as f64;
        }
        let scale = from
            .iter()
            .map(|p| (p[0] - offset[0]).hypot(p[1] - offset[1]))
            .fold(0.0, f64::max);
        if scale <= 1e-9 {
            return Err(TpsError::Degenerate);
        }
        let centres: Vec<[f64; 2]> = from
            .iter()
            .map(|p| [(p[0] - offset[0]) / scale, (p[1] - offset[1]) / scale])
            .collect();
        // [K + λI  P] [w]   [v]
        // [P^T     0] [a] = [0]
        let size = n + 3;
        let mut matrix = vec![vec![0.0; size]; size];
        for i in 0..n {
            for j in 0..n {
                let d2 = (centres[i][0] - centres[j][0]).powi(2)
                    + (centres[i][1] - centres[j][1]).powi(2);
                matrix[i][j] = kernel(d2) + if i == j { smoothing } else { 0.0 };
            }
            let p = [1.0, centres[i][0], centres[i][1]];
            for (k, value) in p.into_iter().enumerate() {
                matrix[i][n + k] = value;
                matrix[n + k][i] = value;
            }
        }
        let mut rhs = vec![[0.0; 2]; size];
        for (row, target) in rhs.iter_mut().zip(to) {
            *row = *target;
        }
        let solution = solve(matrix, rhs).ok_or(TpsError::Degenerate)?;
        Ok(ThinPlateSpline {
            weights: solution[..n].to_vec(),
            affine: [solution[n], solution[n + 1], solution[n + 2]],
            centres,
            offset,
            scale,
        })
    }

    /// Where the spline takes `(x, y)`.
    pub fn map(&self, x: f64, y: f64) -> [f64; 2] {
        let (x, y) = (
            (x - self.offset[0]) / self.scale,
            (y - self.offset[1]) / self.scale,
        );
        let mut out = [
            self.affine[0][0] + self.affine[1][0] * x + self.affine[2][0] * y,
            self.affine[0][1] + self.affine[1][1] * x + self.affine[2][1] * y,
        ];
        for (c, w) in self.centres.iter().zip(&self.weights) {
            let u = kernel((x - c[0]).powi(2) + (y - c[1]).powi(2));
            out[0] += w[0] * u;
            out[1] += w[1] * u;
        }
        out
    }
}

/// Gaussian elimination with partial pivoting; `None` when singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<[f64; 2]>) -> Option<Vec<[f64; 2]>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let factor = a[row][col] / a[col][col];
            if factor == 0.0 {
                continue;
            }
            let (above, below) = a.split_at_mut(row);
            for (target, source) in below[0][col..].iter_mut().zip(&above[col][col..]) {
                *target -= factor * source;
            }
            b[row][0] -= factor * b[col][0];
            b[row][1] -= factor * b[col][1];
        }
    }
    let mut x = vec![[0.0; 2]; n];
    for row in (0..n).rev() {
        let mut acc = b[row];
        for k in row + 1..n {
            acc[0] -= a[row][k] * x[k][0];
            acc[1] -= a[row][k] * x[k][1];
        }
        x[row] = [acc[0] / a[row][row], acc[1] / a[row][row]];
    }
    Some(x)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn close(a: [f64; 2], b: [f64; 2]) -> bool {
        (a[0] - b[0]).abs() < 1e-6 && (a[1] - b[1]).abs() < 1e-6
    }

    #[test]
    fn control_points_map_exactly() {
        let from = [
            [0.0, 0.0],
            [10.0, 0.0],
            [0.0, 10.0],
            [10.0, 10.0],
            [5.0, 5.0],
        ];
        let to = [
            [1.0, 2.0],
            [30.0, 0.0],
            [0.0, 25.0],
            [33.0, 31.0],
            [12.0, 18.0],
        ];
        let tps = ThinPlateSpline::fit(&from, &to, 0.0).unwrap();
        for (f, t) in from.iter().zip(&to) {
            assert!(close(tps.map(f[0], f[1]), *t), "{f:?}");
        }
    }

    #[test]
    fn an_affine_correspondence_is_reproduced_everywhere() {
        let affine = |p: [f64; 2]| [2.0 * p[0] - 0.5 * p[1] + 7.0, 0.3 * p[0] + 1.5 * p[1] - 4.0];
        let from = [
            [0.0, 0.0],
            [100.0, 0.0],
            [0.0, 80.0],
            [100.0, 80.0],
            [40.0, 30.0],
        ];
        let to: Vec<[f64; 2]> = from.iter().map(|p| affine(*p)).collect();
        let tps = ThinPlateSpline::fit(&from, &to, 0.0).unwrap();
        for p in [[13.0, 77.0], [250.0, -40.0], [50.0, 50.0]] {
            assert!(close(tps.map(p[0], p[1]), affine(p)), "{p:?}");
        }
    }

    #[test]
    fn degenerate_points_are_refused() {
        let line = [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]];
        assert_eq!(
            ThinPlateSpline::fit(&line, &line, 0.0).unwrap_err(),
            TpsError::Degenerate
        );
        assert_eq!(
            ThinPlateSpline::fit(&line[..2], &line[..2], 0.0).unwrap_err(),
            TpsError::TooFewPoints
        );
    }
}
