//! Light and folds of what she wears, to shade the new garment with.
//!
//! Her clothes' lightness mixes two things: the light (broad gradients, folds) and the
//! fabric's own colours (a white shirt under a dark jacket, a tie, stripes). Only the
//! first should reach the new garment. The dominant colour of her torso (a small
//! k-means) is taken as "her garment"; where the photo has that colour, its lightness
//! relative to the colour's mean is the shading; elsewhere (the shirt, the tie, a
//! logo) the shading is filled in from around, so other fabrics do not print through.

use opencv::core::{self, Mat, Scalar, Size};
use opencv::imgproc;
use opencv::prelude::*;

use crate::body::Body;
use crate::error::TryonError;

/// Pixels sampled from the torso for the clustering, at most.
const MAX_SAMPLES: usize = 6000;

/// The shading factor (around 1) for every pixel of the analysis copy `small` (8-bit
/// RGB), `CV_32FC1`; `person` is her outline there and `body` her body there.
pub fn shading(small: &Mat, person: &Mat, body: &Body) -> Result<Mat, TryonError> {
    let (width, height) = (small.cols(), small.rows());
    let pixels = small.data_bytes()?;
    let outline = person.data_bytes()?;
    let at = |x: i32, y: i32| (y * width + x) as usize;

    // Her torso's pixels.
    let x0 = ((body.chest_x - 0.9 * body.shoulder_half).max(0.0)) as i32;
    let x1 = ((body.chest_x + 0.9 * body.shoulder_half).min(width as f32)) as i32;
    let y0 = ((body.shoulder_y + 0.2 * body.fh()).max(0.0)) as i32;
    let y1 = (body.hip_y.min(height as f32)) as i32;
    let area = ((x1 - x0).max(0) as usize) * ((y1 - y0).max(0) as usize);
    let stride = (area / MAX_SAMPLES).max(1);
    let mut samples = Vec::new();
    let mut k = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            k += 1;
            if k % stride == 0 && outline[at(x, y)] != 0 {
                let i = at(x, y) * 3;
                samples.push([
                    f32::from(pixels[i]),
                    f32::from(pixels[i + 1]),
                    f32::from(pixels[i + 2]),
                ]);
            }
        }
    }
    let mut out = Mat::new_rows_cols_with_default(height, width, core::CV_32FC1, Scalar::all(1.0))?;
    let Some((colour, spread)) = dominant_colour(&samples) else {
        return Ok(out);
    };
    let near = (2.5 * spread).max(18.0);
    let far = 1.6 * near;

    // Weight of each pixel as "her garment", and its lightness relative to it.
    let luma = |p: [f32; 3]| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2] + 1.0;
    let mean_luma = luma(colour);
    let count = (width * height) as usize;
    let mut weight =
        Mat::new_rows_cols_with_default(height, width, core::CV_32FC1, Scalar::all(0.0))?;
    let mut weighted =
        Mat::new_rows_cols_with_default(height, width, core::CV_32FC1, Scalar::all(0.0))?;
    {
        let w = weight.data_typed_mut::<f32>()?;
        let r = weighted.data_typed_mut::<f32>()?;
        for i in 0..count {
            if outline[i] == 0 {
                continue;
            }
            let p = [
                f32::from(pixels[i * 3]),
                f32::from(pixels[i * 3 + 1]),
                f32::from(pixels[i * 3 + 2]),
            ];
            let d = distance(p, colour);
            let m = ((far - d) / (far - near)).clamp(0.0, 1.0);
            w[i] = m;
            r[i] = m * luma(p) / mean_luma;
        }
    }
    // Fill in the other fabrics from around (normalised convolution).
    let sigma = f64::from((0.25 * body.u()).max(2.0));
    let mut num = Mat::default();
    let mut den = Mat::default();
    imgproc::gaussian_blur_def(&weighted, &mut num, Size::new(0, 0), sigma)?;
    imgproc::gaussian_blur_def(&weight, &mut den, Size::new(0, 0), sigma)?;
    let mut filled =
        Mat::new_rows_cols_with_default(height, width, core::CV_32FC1, Scalar::all(1.0))?;
    {
        let (w, r) = (weight.data_typed::<f32>()?, weighted.data_typed::<f32>()?);
        let (num, den) = (num.data_typed::<f32>()?, den.data_typed::<f32>()?);
        let f = filled.data_typed_mut::<f32>()?;
        for i in 0..count {
            let around = if den[i] > 1e-3 { num[i] / den[i] } else { 1.0 };
            let own = if w[i] > 0.0 { r[i] / w[i] } else { around };
            f[i] = w[i] * own + (1.0 - w[i]) * around;
        }
    }
    // JPEG noise and weave out; folds stay.
    let mut smooth = Mat::default();
    imgproc::gaussian_blur_def(
        &filled,
        &mut smooth,
        Size::new(0, 0),
        f64::from((0.012 * body.u()).max(0.6)),
    )?;
    {
        let s = smooth.data_typed::<f32>()?;
        let o = out.data_typed_mut::<f32>()?;
        for (o, s) in o.iter_mut().zip(s) {
            *o = s.clamp(0.5, 1.3).powf(0.6);
        }
    }
    Ok(out)
}

fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// The largest of three colour clusters of `samples` (k-means, started at the darkest,
/// middle and lightest samples, so the result does not depend on chance), with the
/// members' RMS distance to it.
pub fn dominant_colour(samples: &[[f32; 3]]) -> Option<([f32; 3], f32)> {
    if samples.len() < 16 {
        return None;
    }
    let luma = |p: &[f32; 3]| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    let mut by_light: Vec<&[f32; 3]> = samples.iter().collect();
    by_light.sort_by(|a, b| luma(a).total_cmp(&luma(b)));
    let n = by_light.len();
    let mut centres = [*by_light[n / 10], *by_light[n / 2], *by_light[n * 9 / 10]];
    let mut members = vec![0usize; n];
    for _ in 0..10 {
        let mut sums = [[0.0f32; 3]; 3];
        let mut counts = [0usize; 3];
        for (p, m) in samples.iter().zip(members.iter_mut()) {
            let nearest = (0..3)
                .min_by(|&a, &b| distance(*p, centres[a]).total_cmp(&distance(*p, centres[b])))
                .unwrap_or(0);
            *m = nearest;
            counts[nearest] += 1;
            for c in 0..3 {
                sums[nearest][c] += p[c];
            }
        }
        for k in 0..3 {
            if counts[k] > 0 {
                centres[k] = sums[k].map(|s| s / counts[k] as f32);
            }
        }
    }
    let mut counts = [0usize; 3];
    for m in &members {
        counts[*m] += 1;
    }
    let biggest = (0..3).max_by_key(|&k| counts[k]).unwrap_or(0);
    let (sum, count) = samples
        .iter()
        .zip(&members)
        .filter(|(_, m)| **m == biggest)
        .fold((0.0f32, 0usize), |(s, c), (p, _)| {
            (s + distance(*p, centres[biggest]).powi(2), c + 1)
        });
    Some((centres[biggest], (sum / count.max(1) as f32).sqrt()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn the_dominant_colour_is_the_largest_cluster() {
        // A navy jacket (most), a white shirt and a red tie.
        let mut samples = vec![[30.0, 40.0, 80.0]; 600];
        samples.extend(vec![[240.0, 240.0, 240.0]; 250]);
        samples.extend(vec![[200.0, 30.0, 40.0]; 100]);
        for (i, s) in samples.iter_mut().enumerate() {
            s[0] += (i % 7) as f32;
        }
        let (colour, spread) = dominant_colour(&samples).unwrap();
        assert!(distance(colour, [33.0, 40.0, 80.0]) < 5.0, "{colour:?}");
        assert!(spread < 5.0);
        assert!(dominant_colour(&samples[..3]).is_none());
    }
}
