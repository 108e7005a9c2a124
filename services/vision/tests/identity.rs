//! Face identity on the fixture photos (fixtures/vision/photos, sources in its README):
//! each person's photos, and variants of them as a kiosk camera would see them
//! (cropped, scaled, rotated up to 15 degrees, brighter, darker, JPEG re-encoded), are
//! embedded by the real BlazeFace + dlib pipeline. Over all pairs of embeddings, the
//! same person must match and different people must not, at the catalog's default
//! match distance. The rates are printed (`--nocapture`) for the closing figures.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use opencv::core::{Mat, Point2f, Rect, Scalar, Size, Vector};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};
use service_kit::config::{CatalogConfig, VisionConfig};
use vision::decode::{Frame, ImageLimits, decode};
use vision::faces::embed::distance;
use vision::faces::{FaceAnalyzer, FaceModelFiles};

const LIMITS: ImageLimits = ImageLimits {
    max_pixels: 16_000_000,
    max_side: 8192,
};

fn analyzer() -> FaceAnalyzer {
    let vision = VisionConfig::default();
    let files = FaceModelFiles::verify(&common::models_dir(), &vision).unwrap();
    FaceAnalyzer::load(&files, &vision).unwrap()
}

fn encode_png(bgr: &Mat) -> Vec<u8> {
    let mut out = Vector::<u8>::new();
    imgcodecs::imencode(".png", bgr, &mut out, &Vector::new()).unwrap();
    out.to_vec()
}

fn encode_jpeg(bgr: &Mat, quality: i32) -> Vec<u8> {
    let mut out = Vector::<u8>::new();
    let params = Vector::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, quality]);
    imgcodecs::imencode(".jpg", bgr, &mut out, &params).unwrap();
    out.to_vec()
}

/// The variants of one photo a camera might give, around the face at `face`.
fn variants(frame: &Frame, face: Rect) -> Vec<(&'static str, Vec<u8>)> {
    let bgr = &frame.bgr;
    let (w, h) = (bgr.cols(), bgr.rows());
    let centre = Point2f::new(
        face.x as f32 + face.width as f32 / 2.0,
        face.y as f32 + face.height as f32 / 2.0,
    );
    let mut out = vec![("original", encode_png(bgr))];
    // A tighter crop: the face with one face of margin around it.
    let left = (face.x - face.width).max(0);
    let top = (face.y - face.height).max(0);
    let crop = Rect::new(
        left,
        top,
        (face.x + 2 * face.width).min(w) - left,
        (face.y + 2 * face.height).min(h) - top,
    );
    out.push((
        "crop",
        encode_png(&Mat::roi(bgr, crop).unwrap().try_clone().unwrap()),
    ));
    // Scaled: large photos down (a farther customer), small ones up.
    let factor = if face.width > 200 { 0.5 } else { 1.6 };
    let mut scaled = Mat::default();
    imgproc::resize(
        bgr,
        &mut scaled,
        Size::default(),
        factor,
        factor,
        imgproc::INTER_AREA,
    )
    .unwrap();
    out.push(("scaled", encode_png(&scaled)));
    for (name, degrees) in [("rotated +15", 15.0), ("rotated -15", -15.0)] {
        let rotation = imgproc::get_rotation_matrix_2d(centre, degrees, 1.0).unwrap();
        let mut rotated = Mat::default();
        imgproc::warp_affine(
            bgr,
            &mut rotated,
            &rotation,
            Size::new(w, h),
            imgproc::INTER_LINEAR,
            opencv::core::BORDER_REPLICATE,
            Scalar::default(),
        )
        .unwrap();
        out.push((name, encode_png(&rotated)));
    }
    for (name, alpha, beta) in [("brighter", 1.0, 45.0), ("darker", 0.6, 0.0)] {
        let mut lit = Mat::default();
        bgr.convert_to(&mut lit, -1, alpha, beta).unwrap();
        out.push((name, encode_png(&lit)));
    }
    out.push(("jpeg q40", encode_jpeg(bgr, 40)));
    out
}

struct Sample {
    person: String,
    label: String,
    embedding: Option<Vec<f32>>,
}

#[test]
fn the_same_person_matches_and_different_people_do_not() {
    let mut analyzer = analyzer();
    let people: &[(&str, &[&str])] = &[
        ("obama", &["obama.jpg", "obama2.jpg", "obama3.jpg"]),
        ("biden", &["biden.jpg"]),
        ("collins", &["astronaut.png"]),
        ("messi", &["messi5.jpg"]),
        ("hanks", &["Tom_Hanks_54745.png"]),
    ];
    // The group photo: each face found is one more person.
    let mut photos: Vec<(String, String, Frame, Rect)> = Vec::new();
    for (person, files) in people {
        for file in *files {
            let frame = decode("test image", &common::photo(file), LIMITS).unwrap();
            let faces = analyzer.analyze(&frame, false).unwrap();
            assert!(!faces.is_empty(), "no face found in {file}");
            let b = faces[0].face.bbox;
            let rect = Rect::new(b.x as i32, b.y as i32, b.width as i32, b.height as i32);
            photos.push(((*person).to_owned(), (*file).to_owned(), frame, rect));
        }
    }
    let group = decode("test image", &common::photo("t1.jpg"), LIMITS).unwrap();
    let group_faces = analyzer.analyze(&group, false).unwrap();
    eprintln!("t1.jpg: {} faces", group_faces.len());
    for (i, face) in group_faces.iter().enumerate() {
        let b = face.face.bbox;
        // Each group face as its own photo: the face with a face of margin around it.
        let (gw, gh) = (group.bgr.cols(), group.bgr.rows());
        let left = ((b.x - b.width) as i32).max(0);
        let top = ((b.y - b.height) as i32).max(0);
        let right = ((b.x + 2.0 * b.width) as i32).min(gw);
        let bottom = ((b.y + 2.0 * b.height) as i32).min(gh);
        let crop = Mat::roi(&group.bgr, Rect::new(left, top, right - left, bottom - top))
            .unwrap()
            .try_clone()
            .unwrap();
        if std::env::var_os("VISION_DUMP").is_some() {
            std::fs::write(format!("/tmp/t1_face{i}.png"), encode_png(&crop)).unwrap();
        }
        let frame = decode("test image", &encode_png(&crop), LIMITS).unwrap();
        let faces = analyzer.analyze(&frame, false).unwrap();
        if let Some(found) = faces.first() {
            let fb = found.face.bbox;
            let rect = Rect::new(fb.x as i32, fb.y as i32, fb.width as i32, fb.height as i32);
            photos.push((
                format!("t1-person-{i}"),
                format!("t1.jpg face {i}"),
                frame,
                rect,
            ));
        }
    }

    let mut samples = Vec::new();
    for (person, file, frame, face) in &photos {
        for (variant, bytes) in variants(frame, *face) {
            let frame = decode("test image", &bytes, LIMITS).unwrap();
            let reading = analyzer.analyze(&frame, true).unwrap().into_iter().next();
            if let Some(r) = reading.as_ref().filter(|r| r.embedding.is_none()) {
                eprintln!(
                    "{file} {variant}: quality {:.2} {:?}, box {:.0}x{:.0}",
                    r.face.quality, r.face.issues, r.face.bbox.width, r.face.bbox.height
                );
            }
            let embedding = reading.and_then(|reading| reading.embedding);
            samples.push(Sample {
                person: person.clone(),
                label: format!("{file} {variant}"),
                embedding,
            });
        }
    }
    // A photo whose own face is refused by the quality check (too small, turned away)
    // is left out: refusing it is the check working. Its variants are not counted.
    let refused: Vec<String> = samples
        .iter()
        .filter(|s| s.label.ends_with(" original") && s.embedding.is_none())
        .map(|s| s.label.trim_end_matches(" original").to_owned())
        .collect();
    eprintln!("photos refused by the quality check: {refused:?}");
    samples.retain(|s| {
        !refused
            .iter()
            .any(|r| s.label.starts_with(&format!("{r} ")))
    });
    let people_count = samples
        .iter()
        .map(|s| s.person.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let embedded = samples.iter().filter(|s| s.embedding.is_some()).count();
    for sample in samples.iter().filter(|s| s.embedding.is_none()) {
        eprintln!(
            "variant not embedded (no face or poor quality): {}",
            sample.label
        );
    }

    let threshold = CatalogConfig::default().face_match_max_distance;
    let (mut genuine, mut genuine_accepted, mut impostor, mut impostor_accepted) = (0, 0, 0, 0);
    let mut worst_genuine = 0.0f32;
    let mut closest_impostor = f32::MAX;
    for (i, a) in samples.iter().enumerate() {
        for b in &samples[i + 1..] {
            let (Some(ea), Some(eb)) = (&a.embedding, &b.embedding) else {
                continue;
            };
            let d = distance(ea, eb);
            if a.person == b.person {
                genuine += 1;
                worst_genuine = worst_genuine.max(d);
                if d <= threshold {
                    genuine_accepted += 1;
                } else {
                    eprintln!("false reject at {d:.3}: {} / {}", a.label, b.label);
                }
            } else {
                impostor += 1;
                closest_impostor = closest_impostor.min(d);
                if d <= threshold {
                    impostor_accepted += 1;
                    eprintln!("FALSE ACCEPT at {d:.3}: {} / {}", a.label, b.label);
                }
            }
        }
    }
    let tar = genuine_accepted as f32 / genuine.max(1) as f32;
    let far = impostor_accepted as f32 / impostor.max(1) as f32;
    eprintln!(
        "identity: {people_count} people, {} samples, {embedded} embedded; threshold {threshold}; \
         genuine pairs {genuine}, true accept rate {tar:.3} (largest distance {worst_genuine:.3}); \
         impostor pairs {impostor}, false accept rate {far:.4} (closest {closest_impostor:.3})",
        samples.len()
    );
    assert!(
        people_count >= 6,
        "at least 6 different people are usable ({people_count})"
    );
    assert!(
        embedded as f32 >= samples.len() as f32 * 0.9,
        "at least 90% of the variants give a usable face ({embedded} of {})",
        samples.len()
    );
    assert_eq!(
        impostor_accepted, 0,
        "no false accept at the default threshold"
    );
    assert!(
        tar >= 0.95,
        "the same person is recognised across variants (TAR {tar:.3})"
    );
}

/// A face too small, blurred, turned or in the dark is reported with the reason and
/// never embedded: matching it could greet the wrong customer.
#[test]
fn poor_faces_are_reported_with_their_reason_and_not_embedded() {
    use protocol::vision::FaceIssue;
    let mut analyzer = analyzer();
    let portrait = decode("test image", &common::photo("obama.jpg"), LIMITS).unwrap();
    let good = analyzer.analyze(&portrait, true).unwrap();
    assert!(
        good[0].embedding.is_some(),
        "the untouched portrait is usable"
    );

    let mut blurred = Mat::default();
    imgproc::gaussian_blur(
        &portrait.bgr,
        &mut blurred,
        Size::new(0, 0),
        12.0,
        12.0,
        opencv::core::BORDER_DEFAULT,
    )
    .unwrap();
    let mut dark = Mat::default();
    portrait.bgr.convert_to(&mut dark, -1, 0.12, 0.0).unwrap();
    let mut small = Mat::default();
    let factor = 40.0 / f64::from(good[0].face.bbox.width);
    imgproc::resize(
        &portrait.bgr,
        &mut small,
        Size::default(),
        factor,
        factor,
        imgproc::INTER_AREA,
    )
    .unwrap();
    for (what, image, issue) in [
        ("blurred", blurred, FaceIssue::Blurred),
        ("in the dark", dark, FaceIssue::TooDark),
        ("40 pixels across", small, FaceIssue::TooSmall),
    ] {
        let frame = decode("test image", &encode_png(&image), LIMITS).unwrap();
        let faces = analyzer.analyze(&frame, true).unwrap();
        eprintln!(
            "{what}: {:?}",
            faces
                .iter()
                .map(|f| (f.face.quality, f.face.issues.clone()))
                .collect::<Vec<_>>()
        );
        let face = faces
            .first()
            .unwrap_or_else(|| panic!("{what}: the face is still found"));
        assert!(
            face.face.issues.contains(&issue),
            "{what}: {:?}",
            face.face.issues
        );
        assert!(face.embedding.is_none(), "{what}: not embedded");
    }
    // A turned-away face: the first face of the group photo looks to the side.
    let group = decode("test image", &common::photo("t1.jpg"), LIMITS).unwrap();
    let faces = analyzer.analyze(&group, true).unwrap();
    assert!(
        faces
            .iter()
            .any(|f| f.face.issues.contains(&FaceIssue::TurnedAway) && f.embedding.is_none()),
        "a face in profile is refused"
    );
}
