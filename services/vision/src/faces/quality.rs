//! Is a face good enough to recognise? Size, sharpness, pose and light, each scored
//! 0..1; the face's quality is the weakest of them, so one bad reason is enough to
//! stop a match (a blurred face matched wrongly would greet the wrong customer).

use opencv::core::{CV_64F, Mat, Rect, Size};
use opencv::imgproc;
use opencv::prelude::*;
use protocol::vision::FaceIssue;

use super::detect::Detection;
use crate::error::VisionError;

/// The quality of one face and what lowers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Quality {
    /// The weakest of the scores below, 0..1.
    pub score: f32,
    /// Reasons the face is poor.
    pub issues: Vec<FaceIssue>,
    /// Pixels across the face (the shorter side of its box).
    pub size_px: f32,
    /// Variance of the Laplacian of the face scaled to 128 pixels (sharpness).
    pub sharpness: f32,
    /// How far the nose is from the middle of the eyes, as a share of the eye
    /// distance (0 = frontal); turning the head moves it.
    pub yaw: f32,
    /// Tilt of the eye line, in degrees.
    pub roll_degrees: f32,
    /// Mean brightness of the face, 0..255.
    pub brightness: f32,
}

/// Scores a face of `gray` (the whole frame, 8-bit) with its dlib landmarks.
pub fn assess(
    gray: &Mat,
    face: &Detection,
    points: &[[f32; 2]; 5],
    cut: bool,
) -> Result<Quality, VisionError> {
    let size_px = face.width.min(face.height);
    let rect = Rect::new(
        face.x as i32,
        face.y as i32,
        (face.width as i32).max(1),
        (face.height as i32).max(1),
    );
    let roi = Mat::roi(gray, rect)?;
    let mut scaled = Mat::default();
    imgproc::resize(
        &roi,
        &mut scaled,
        Size::new(128, 128),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )?;
    let mut laplacian = Mat::default();
    imgproc::laplacian(
        &scaled,
        &mut laplacian,
        CV_64F,
        3,
        1.0,
        0.0,
        opencv::core::BORDER_DEFAULT,
    )?;
    let mut mean = Mat::default();
    let mut deviation = Mat::default();
    opencv::core::mean_std_dev(
        &laplacian,
        &mut mean,
        &mut deviation,
        &opencv::core::no_array(),
    )?;
    let sd = *deviation.at::<f64>(0)? as f32;
    let sharpness = sd * sd;
    let brightness = opencv::core::mean(&scaled, &opencv::core::no_array())?[0] as f32;

    let eye_a = midpoint(points[0], points[1]);
    let eye_b = midpoint(points[2], points[3]);
    let nose = points[4];
    let eye_line = [eye_b[0] - eye_a[0], eye_b[1] - eye_a[1]];
    let eye_distance_sq = eye_line[0] * eye_line[0] + eye_line[1] * eye_line[1];
    let along = if eye_distance_sq > 0.0 {
        ((nose[0] - eye_a[0]) * eye_line[0] + (nose[1] - eye_a[1]) * eye_line[1]) / eye_distance_sq
    } else {
        0.5
    };
    let yaw = (along - 0.5).abs();
    let mut roll_degrees = eye_line[1].atan2(eye_line[0]).to_degrees();
    if roll_degrees > 90.0 {
        roll_degrees -= 180.0;
    } else if roll_degrees < -90.0 {
        roll_degrees += 180.0;
    }

    let mut issues = Vec::new();
    let size_score = ramp(size_px, 40.0, 80.0);
    if size_px < 60.0 {
        issues.push(FaceIssue::TooSmall);
    }
    let sharp_score = ramp(sharpness, 20.0, 100.0);
    if sharpness < 40.0 {
        issues.push(FaceIssue::Blurred);
    }
    // dlib's alignment levels the eyes, so a tilted head (roll) only matters when it is
    // extreme; a turned head (yaw) hides half the face and matters much sooner.
    let pose_score = ramp(0.35 - yaw, 0.0, 0.2).min(ramp(60.0 - roll_degrees.abs(), 0.0, 15.0));
    if yaw > 0.25 || roll_degrees.abs() > 50.0 {
        issues.push(FaceIssue::TurnedAway);
    }
    let light_score = ramp(brightness, 35.0, 70.0).min(ramp(245.0 - brightness, 0.0, 40.0));
    if brightness < 50.0 {
        issues.push(FaceIssue::TooDark);
    } else if brightness > 220.0 {
        issues.push(FaceIssue::TooBright);
    }
    let mut score = size_score.min(sharp_score).min(pose_score).min(light_score);
    if cut {
        issues.push(FaceIssue::Cut);
        score = score.min(0.4);
    }
    Ok(Quality {
        score,
        issues,
        size_px,
        sharpness,
        yaw,
        roll_degrees,
        brightness,
    })
}

fn midpoint(a: [f32; 2], b: [f32; 2]) -> [f32; 2] {
    [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0]
}

/// 0 at or below `low`, 1 at or above `high`, linear between.
fn ramp(value: f32, low: f32, high: f32) -> f32 {
    ((value - low) / (high - low)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_is_clamped_and_linear() {
        assert_eq!(ramp(10.0, 20.0, 40.0), 0.0);
        assert_eq!(ramp(30.0, 20.0, 40.0), 0.5);
        assert_eq!(ramp(50.0, 20.0, 40.0), 1.0);
    }
}
