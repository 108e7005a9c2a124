//! Where the body is, from the face: adult proportions measured in face heights place
//! the neck, shoulders, armpits, waist, hips, knees and ankles below a detected face;
//! the person's outline (see [`crate::mask`]) then corrects the shoulder and hip widths
//! and the lean of the torso where it can be seen.
//!
//! The face box is OpenCV's frontal Haar cascade's: it spans about the brows to the
//! chin and is about as wide as the cheeks, so one face height `fh` is a little under
//! the head's height.

use protocol::tryon::BodyGeometry;
use protocol::vision::{BoundingBox, Point};

/// A face box in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

impl FaceBox {
    /// Horizontal centre.
    pub fn cx(&self) -> f32 {
        self.x + self.w / 2.0
    }
}

/// The body below a face, in pixels of the photo (y grows downwards). Lengths are
/// in face heights (`fh`) or face widths (`u`) as the constants say.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    /// The face it was placed from.
    pub face: FaceBox,
    /// Horizontal centre of the chest.
    pub chest_x: f32,
    /// Horizontal centre of the hips (differs from `chest_x` when she leans).
    pub hip_x: f32,
    /// Bottom of the chin.
    pub chin_y: f32,
    /// Base of the neck, where a crew neckline sits.
    pub neck_y: f32,
    /// Shoulder line (top of the outer shoulders).
    pub shoulder_y: f32,
    /// Armpits.
    pub armpit_y: f32,
    /// Natural waist.
    pub waist_y: f32,
    /// Hip line, where a shirt's hem falls.
    pub hip_y: f32,
    /// Knees.
    pub knee_y: f32,
    /// Ankles.
    pub ankle_y: f32,
    /// Half the neck's width.
    pub neck_half: f32,
    /// Half the shoulders' width, outer shoulder to outer shoulder.
    pub shoulder_half: f32,
    /// Half the hips' width.
    pub hip_half: f32,
}

/// Proportions below the face, in face heights from the top of the face box.
const CHIN: f32 = 1.05;
const NECK: f32 = 1.32;
const SHOULDERS: f32 = 1.50;
/// From the shoulder line, in face heights.
const ARMPITS: f32 = 0.95;
const WAIST: f32 = 2.0;
const HIPS: f32 = 3.0;
const KNEES: f32 = 5.3;
const ANKLES: f32 = 7.6;
/// Widths in face widths.
const NECK_HALF: f32 = 0.42;
const SHOULDER_HALF: f32 = 1.3;
/// Hips relative to the shoulders.
const HIP_RATIO: f32 = 0.88;

impl Body {
    /// The average body below `face`.
    pub fn from_face(face: FaceBox) -> Body {
        let (fh, u) = (face.h, face.w);
        let shoulder_y = face.y + SHOULDERS * fh;
        let shoulder_half = SHOULDER_HALF * u;
        Body {
            face,
            chest_x: face.cx(),
            hip_x: face.cx(),
            chin_y: face.y + CHIN * fh,
            neck_y: face.y + NECK * fh,
            shoulder_y,
            armpit_y: shoulder_y + ARMPITS * fh,
            waist_y: shoulder_y + WAIST * fh,
            hip_y: shoulder_y + HIPS * fh,
            knee_y: shoulder_y + KNEES * fh,
            ankle_y: shoulder_y + ANKLES * fh,
            neck_half: NECK_HALF * u,
            shoulder_half,
            hip_half: HIP_RATIO * shoulder_half,
        }
    }

    /// Face width, the unit of widths.
    pub fn u(&self) -> f32 {
        self.face.w
    }

    /// Face height, the unit of lengths.
    pub fn fh(&self) -> f32 {
        self.face.h
    }

    /// The row just below the shoulders where the outline's width is the shoulders'
    /// (upper arms included, as a mirror sees them).
    pub fn chest_row(&self) -> f32 {
        self.shoulder_y + 0.45 * self.fh()
    }

    /// Moves the shoulder line (and everything below it) to where her outline says the
    /// shoulders are: `left` and `right` are the tops of the outline beside the neck
    /// on either side. The side nearer the average is believed (the other may have
    /// background in it), and the move is at most half a face height, enough for a
    /// head bent forward or held high.
    pub fn lift_shoulders(&mut self, left: Option<f32>, right: Option<f32>) {
        let default = self.shoulder_y;
        let Some(measured) = [left, right]
            .into_iter()
            .flatten()
            .min_by(|a, b| (a - default).abs().total_cmp(&(b - default).abs()))
        else {
            return;
        };
        let limit = 0.5 * self.fh();
        let delta = (measured - default).clamp(-limit, limit);
        for y in [
            &mut self.neck_y,
            &mut self.shoulder_y,
            &mut self.armpit_y,
            &mut self.waist_y,
            &mut self.hip_y,
            &mut self.knee_y,
            &mut self.ankle_y,
        ] {
            *y += delta;
        }
    }

    /// Columns beside the neck where [`Body::lift_shoulders`] looks for the shoulder
    /// tops, as (from, to) offsets from the centre in pixels: beyond where hair
    /// usually falls, inside the shoulders' ends.
    pub fn shoulder_columns(&self) -> (f32, f32) {
        (1.0 * self.u(), 1.25 * self.u())
    }

    /// Corrects the widths and centres with the person's outline: `chest` is the
    /// outline's extent (left, right) on [`Body::chest_row`], `hips` on the hip line
    /// when that is inside the picture. Measurements far from the average are clamped,
    /// so a bad outline bends the body but cannot break it.
    pub fn refine(&mut self, chest: Option<(f32, f32)>, hips: Option<(f32, f32)>) {
        let u = self.u();
        if let Some((left, right)) = chest {
            let half = (right - left) / 2.0;
            self.shoulder_half = half.clamp(1.0 * u, 1.6 * u);
            let centre = (left + right) / 2.0;
            self.chest_x = centre.clamp(self.face.cx() - 0.4 * u, self.face.cx() + 0.4 * u);
            self.hip_x = self.chest_x;
            self.hip_half = HIP_RATIO * self.shoulder_half;
        }
        if let Some((left, right)) = hips {
            // Arms hang beside the hips, so the outline there is wider than the hips.
            let half = (right - left) / 2.0 * 0.8;
            self.hip_half = half.clamp(0.7 * self.shoulder_half, 1.05 * self.shoulder_half);
            let centre = (left + right) / 2.0;
            self.hip_x = centre.clamp(self.chest_x - 0.8 * u, self.chest_x + 0.8 * u);
        }
    }

    /// Horizontal centre of the body at height `y`: the chest centre above the chest
    /// row, then towards the hip centre.
    pub fn centre_at(&self, y: f32) -> f32 {
        let span = (self.hip_y - self.chest_row()).max(1.0);
        let t = ((y - self.chest_row()) / span).max(0.0);
        self.chest_x + (self.hip_x - self.chest_x) * t
    }

    /// The same body in a picture scaled by `s` (e.g. the reduced analysis copy).
    pub fn scaled(&self, s: f32) -> Body {
        Body {
            face: FaceBox {
                x: self.face.x * s,
                y: self.face.y * s,
                w: self.face.w * s,
                h: self.face.h * s,
            },
            chest_x: self.chest_x * s,
            hip_x: self.hip_x * s,
            chin_y: self.chin_y * s,
            neck_y: self.neck_y * s,
            shoulder_y: self.shoulder_y * s,
            armpit_y: self.armpit_y * s,
            waist_y: self.waist_y * s,
            hip_y: self.hip_y * s,
            knee_y: self.knee_y * s,
            ankle_y: self.ankle_y * s,
            neck_half: self.neck_half * s,
            shoulder_half: self.shoulder_half * s,
            hip_half: self.hip_half * s,
        }
    }

    /// What the response reports, clipped to a `width` × `height` picture where it
    /// describes a region.
    pub fn geometry(&self, width: u32, height: u32) -> BodyGeometry {
        let point = |x: f32, y: f32| Point { x, y };
        let (w, h) = (width as f32, height as f32);
        let left = (self.chest_x - self.shoulder_half).clamp(0.0, w);
        let right = (self.chest_x + self.shoulder_half).clamp(0.0, w);
        let top = self.shoulder_y.clamp(0.0, h);
        let bottom = self.hip_y.clamp(0.0, h);
        BodyGeometry {
            face: BoundingBox {
                x: self.face.x,
                y: self.face.y,
                width: self.face.w,
                height: self.face.h,
            },
            neck: point(self.chest_x, self.neck_y),
            left_shoulder: point(self.chest_x - self.shoulder_half, self.shoulder_y),
            right_shoulder: point(self.chest_x + self.shoulder_half, self.shoulder_y),
            left_hip: point(self.hip_x - self.hip_half, self.hip_y),
            right_hip: point(self.hip_x + self.hip_half, self.hip_y),
            torso: BoundingBox {
                x: left,
                y: top,
                width: right - left,
                height: bottom - top,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FACE: FaceBox = FaceBox {
        x: 400.0,
        y: 100.0,
        w: 200.0,
        h: 200.0,
    };

    #[test]
    fn the_body_hangs_below_the_face_in_order() {
        let body = Body::from_face(FACE);
        let ys = [
            FACE.y + FACE.h,
            body.neck_y,
            body.shoulder_y,
            body.armpit_y,
            body.waist_y,
            body.hip_y,
            body.knee_y,
            body.ankle_y,
        ];
        assert!(ys.windows(2).all(|w| w[0] < w[1]), "{ys:?}");
        assert!(body.neck_half < body.hip_half && body.hip_half < body.shoulder_half);
        assert_eq!(body.chest_x, 500.0);
    }

    #[test]
    fn the_outline_corrects_widths_within_bounds() {
        let mut body = Body::from_face(FACE);
        body.refine(Some((250.0, 790.0)), None);
        assert_eq!(body.shoulder_half, 270.0);
        assert_eq!(body.chest_x, 520.0);
        // A wild outline is clamped to plausible proportions.
        let mut wild = Body::from_face(FACE);
        wild.refine(Some((0.0, 2000.0)), Some((-500.0, 3000.0)));
        assert_eq!(wild.shoulder_half, 1.6 * FACE.w);
        assert!(wild.hip_half <= 1.05 * wild.shoulder_half);
        assert!((wild.chest_x - 500.0).abs() <= 0.4 * FACE.w + 1e-3);
    }

    #[test]
    fn the_shoulder_line_moves_to_the_outline_within_half_a_face() {
        let mut body = Body::from_face(FACE);
        let (neck, hips) = (body.neck_y, body.hip_y);
        // The nearer side is believed; the far one had background in it.
        body.lift_shoulders(Some(body.shoulder_y - 40.0), Some(0.0));
        assert_eq!(body.neck_y, neck - 40.0);
        assert_eq!(body.hip_y, hips - 40.0);
        let mut body = Body::from_face(FACE);
        body.lift_shoulders(None, Some(body.shoulder_y + 500.0));
        assert_eq!(body.hip_y, hips + 0.5 * FACE.h);
    }

    #[test]
    fn the_centre_follows_a_lean_below_the_chest() {
        let mut body = Body::from_face(FACE);
        body.refine(Some((300.0, 700.0)), Some((420.0, 700.0)));
        assert_eq!(body.centre_at(body.shoulder_y), body.chest_x);
        assert!((body.centre_at(body.hip_y) - body.hip_x).abs() < 1e-3);
        assert!(body.hip_x > body.chest_x);
    }
}
