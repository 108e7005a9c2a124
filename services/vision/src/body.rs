//! Where the garments are, from the geometry of the face: an adult's shoulders are
//! about three face-widths apart and the torso about two and a half face-heights long,
//! so the face box alone places the upper- and lower-body regions well enough for
//! colour, pattern and catalogue matching, without a body model (none runs here).

use protocol::vision::{BoundingBox, GarmentKind};

/// Smallest garment region worth describing, in pixels per side.
const MIN_REGION_SIDE: f32 = 24.0;

/// The upper-body and lower-body regions under a face, clamped to the frame; a region
/// mostly outside the frame is left out.
pub fn garment_regions(
    face: &BoundingBox,
    width: f32,
    height: f32,
) -> Vec<(GarmentKind, BoundingBox)> {
    let centre = face.x + face.width / 2.0;
    // The torso starts below the chin and neck; its middle (between the arms) is about
    // two face-widths wide, which keeps the background out of the colour.
    let upper = BoundingBox {
        x: centre - face.width,
        y: face.y + face.height * 1.35,
        width: face.width * 2.0,
        height: face.height * 2.3,
    };
    let lower = BoundingBox {
        x: centre - face.width * 0.9,
        y: upper.y + upper.height + face.height * 0.3,
        width: face.width * 1.8,
        height: face.height * 2.6,
    };
    [
        (GarmentKind::UpperBody, upper),
        (GarmentKind::LowerBody, lower),
    ]
    .into_iter()
    .filter_map(|(kind, region)| {
        let clamped = clamp(&region, width, height)?;
        // Keep a region only when at least half of it is in view.
        (clamped.height >= region.height * 0.5).then_some((kind, clamped))
    })
    .collect()
}

/// The part of `region` inside a `width` × `height` frame, if big enough.
pub fn clamp(region: &BoundingBox, width: f32, height: f32) -> Option<BoundingBox> {
    let left = region.x.max(0.0);
    let top = region.y.max(0.0);
    let right = (region.x + region.width).min(width);
    let bottom = (region.y + region.height).min(height);
    (right - left >= MIN_REGION_SIDE && bottom - top >= MIN_REGION_SIDE).then_some(BoundingBox {
        x: left,
        y: top,
        width: right - left,
        height: bottom - top,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, y: f32, side: f32) -> BoundingBox {
        BoundingBox {
            x,
            y,
            width: side,
            height: side,
        }
    }

    #[test]
    fn a_face_high_in_a_tall_frame_has_both_regions_below_it() {
        let f = face(270.0, 40.0, 100.0);
        let regions = garment_regions(&f, 640.0, 1000.0);
        assert_eq!(regions.len(), 2);
        let (kind, upper) = regions[0];
        assert_eq!(kind, GarmentKind::UpperBody);
        assert!(upper.y > f.y + f.height, "the shirt starts below the chin");
        assert!(
            (upper.x + upper.width / 2.0 - 320.0).abs() < 1.0,
            "centred under the face"
        );
        assert_eq!(regions[1].0, GarmentKind::LowerBody);
        assert!(regions[1].1.y >= upper.y + upper.height);
    }

    #[test]
    fn a_face_at_the_bottom_of_the_frame_has_no_garment_in_view() {
        assert!(garment_regions(&face(270.0, 380.0, 100.0), 640.0, 480.0).is_empty());
    }

    #[test]
    fn a_kiosk_framing_keeps_the_upper_body_only() {
        // Head and shoulders: the upper body is in view, the legs are not.
        let regions = garment_regions(&face(260.0, 60.0, 120.0), 640.0, 480.0);
        assert_eq!(regions.len(), 1);
        assert_eq!(regions[0].0, GarmentKind::UpperBody);
        assert!(regions[0].1.y + regions[0].1.height <= 480.0);
    }
}
