//! The person's outline and what lies in front of her clothes, on the reduced analysis
//! copy of the photo.
//!
//! - [`person_mask`]: GrabCut (OpenCV) seeded by the body placed from the face: the
//!   face's core and a column down the torso are surely her, the picture's top corners
//!   and far sides surely background, the head, neck and a torso trapezoid probably her.
//!   GrabCut learns both colour models from the seeds and cuts along the edges between.
//! - [`skin_mask`]: skin coloured like her face (in YCrCb) below the chest, i.e. hands
//!   and forearms in front of her clothes, which the garment must pass behind.

use opencv::core::{self, Mat, Point as CvPoint, Rect, Scalar, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;

use crate::body::Body;
use crate::error::TryonError;

/// GrabCut iterations after the colour models are first learnt from the seeds: on
/// the fixture photos one gave the same garment boxes as two (IoU within 0.02) and
/// each costs a max-flow over the reduced picture.
const GRABCUT_ITERATIONS: i32 = 1;

fn pt(x: f32, y: f32) -> CvPoint {
    CvPoint::new(x.round() as i32, y.round() as i32)
}

/// Longest side of the picture GrabCut works on: its graph cut costs about 5 µs a
/// pixel on the edge node's CPU, so the outline is cut at this size and enlarged
/// (the edges are feathered afterwards anyway).
pub const GRABCUT_SIDE: i32 = 320;

/// The person's outline: 255 where she is, 0 elsewhere (same size as `image`, an
/// 8-bit three-channel picture), `body` in the picture's pixels.
pub fn person_mask(image: &Mat, body: &Body) -> Result<Mat, TryonError> {
    let long = image.cols().max(image.rows());
    if long <= GRABCUT_SIDE {
        return cut_person(image, body);
    }
    let s = GRABCUT_SIDE as f32 / long as f32;
    let size = Size::new(
        ((image.cols() as f32 * s).round() as i32).max(1),
        ((image.rows() as f32 * s).round() as i32).max(1),
    );
    let mut reduced = Mat::default();
    imgproc::resize(image, &mut reduced, size, 0.0, 0.0, imgproc::INTER_AREA)?;
    let cut = cut_person(&reduced, &body.scaled(s))?;
    let mut enlarged = Mat::default();
    imgproc::resize(
        &cut,
        &mut enlarged,
        image.size()?,
        0.0,
        0.0,
        imgproc::INTER_LINEAR,
    )?;
    let mut mask = Mat::default();
    imgproc::threshold(&enlarged, &mut mask, 127.0, 255.0, imgproc::THRESH_BINARY)?;
    Ok(mask)
}

/// GrabCut on `image` as it is.
fn cut_person(image: &Mat, body: &Body) -> Result<Mat, TryonError> {
    let (width, height) = (image.cols(), image.rows());
    let (w, h) = (width as f32, height as f32);
    let (u, fh) = (body.u(), body.fh());
    let face = body.face;
    let mut mask = Mat::new_rows_cols_with_default(
        height,
        width,
        core::CV_8UC1,
        Scalar::all(f64::from(imgproc::GC_PR_BGD)),
    )?;

    // Surely background: above the head, the top corners beside the head and
    // shoulders, and far to the sides.
    let sure_bg = Scalar::all(f64::from(imgproc::GC_BGD));
    let crown = face.y - 0.55 * fh;
    if crown > 1.0 {
        imgproc::rectangle(
            &mut mask,
            Rect::new(0, 0, width, crown as i32),
            sure_bg,
            -1,
            imgproc::LINE_8,
            0,
        )?;
    }
    let shoulders = body.shoulder_y.min(h);
    let near = 2.3 * u;
    let far = 3.3 * u;
    for (x0, x1, bottom) in [
        (0.0, body.chest_x - near, shoulders),
        (body.chest_x + near, w, shoulders),
        (0.0, body.chest_x - far, h),
        (body.chest_x + far, w, h),
    ] {
        let (x0, x1) = (x0.clamp(0.0, w), x1.clamp(0.0, w));
        if x1 - x0 >= 1.0 && bottom >= 1.0 {
            imgproc::rectangle(
                &mut mask,
                Rect::new(x0 as i32, 0, (x1 - x0) as i32, bottom as i32),
                sure_bg,
                -1,
                imgproc::LINE_8,
                0,
            )?;
        }
    }

    // Probably her: head, neck, and the torso widening to the shoulders and arms.
    let probable = Scalar::all(f64::from(imgproc::GC_PR_FGD));
    imgproc::ellipse(
        &mut mask,
        pt(face.cx(), face.y + 0.45 * fh),
        Size::new((0.7 * u) as i32, (0.95 * fh) as i32),
        0.0,
        0.0,
        360.0,
        probable,
        -1,
        imgproc::LINE_8,
        0,
    )?;
    let bottom = h + fh;
    let spread = 1.25 * body.shoulder_half;
    let torso: Vector<CvPoint> = Vector::from_iter([
        pt(body.chest_x - 0.6 * u, body.chin_y),
        pt(body.chest_x + 0.6 * u, body.chin_y),
        pt(body.chest_x + spread, body.shoulder_y + 0.3 * fh),
        pt(body.hip_x + spread, bottom),
        pt(body.hip_x - spread, bottom),
        pt(body.chest_x - spread, body.shoulder_y + 0.3 * fh),
    ]);
    imgproc::fill_convex_poly(&mut mask, &torso, probable, imgproc::LINE_8, 0)?;

    // Surely her: the middle of the face and a column down the chest.
    let sure_fg = Scalar::all(f64::from(imgproc::GC_FGD));
    imgproc::ellipse(
        &mut mask,
        pt(face.cx(), face.y + 0.55 * fh),
        Size::new((0.28 * u) as i32, (0.35 * fh) as i32),
        0.0,
        0.0,
        360.0,
        sure_fg,
        -1,
        imgproc::LINE_8,
        0,
    )?;
    // Only the chest: lower down, what touches her (a lectern, a table) is not her.
    let column_top = body.shoulder_y + 0.3 * fh;
    let column_bottom = (body.armpit_y + 0.6 * fh).min(h);
    if column_bottom - column_top >= 2.0 {
        let column: Vector<CvPoint> = Vector::from_iter([
            pt(body.chest_x - 0.35 * u, column_top),
            pt(body.chest_x + 0.35 * u, column_top),
            pt(body.centre_at(column_bottom) + 0.35 * u, column_bottom),
            pt(body.centre_at(column_bottom) - 0.35 * u, column_bottom),
        ]);
        imgproc::fill_convex_poly(&mut mask, &column, sure_fg, imgproc::LINE_8, 0)?;
    }

    // Only the part that is not surely background goes through the cut (a wide
    // kiosk frame is mostly background), with a margin of background around it.
    let mut not_background = Mat::default();
    core::compare(&mask, &sure_bg, &mut not_background, core::CMP_NE)?;
    let mut area = imgproc::bounding_rect(&not_background)?;
    let margin = 8;
    area = Rect::new(
        area.x - margin,
        area.y - margin,
        area.width + 2 * margin,
        area.height + 2 * margin,
    ) & Rect::new(0, 0, width, height);
    {
        let mut background_model = Mat::default();
        let mut foreground_model = Mat::default();
        let mut labels = Mat::roi_mut(&mut mask, area)?;
        imgproc::grab_cut(
            &Mat::roi(image, area)?,
            &mut labels,
            Rect::default(),
            &mut background_model,
            &mut foreground_model,
            GRABCUT_ITERATIONS,
            imgproc::GC_INIT_WITH_MASK,
        )?;
    }

    // Foreground labels are odd (GC_FGD = 1, GC_PR_FGD = 3).
    let mut odd = Mat::default();
    core::bitwise_and(&mask, &Scalar::all(1.0), &mut odd, &core::no_array())?;
    let mut person = Mat::default();
    imgproc::threshold(&odd, &mut person, 0.0, 255.0, imgproc::THRESH_BINARY)?;
    let kernel = imgproc::get_structuring_element(
        imgproc::MORPH_ELLIPSE,
        Size::new(5, 5),
        CvPoint::new(-1, -1),
    )?;
    let mut opened = Mat::default();
    imgproc::morphology_ex(
        &person,
        &mut opened,
        imgproc::MORPH_OPEN,
        &kernel,
        CvPoint::new(-1, -1),
        1,
        core::BORDER_CONSTANT,
        imgproc::morphology_default_border_value()?,
    )?;
    keep_component_at(
        &opened,
        pt(body.chest_x, (body.shoulder_y + 0.5 * fh).min(h - 1.0)),
    )
}

/// Only the connected part of `mask` that contains `seed` (or the largest part when
/// the seed misses), so background blobs that looked like her are dropped.
fn keep_component_at(mask: &Mat, seed: CvPoint) -> Result<Mat, TryonError> {
    let mut labels = Mat::default();
    let mut stats = Mat::default();
    let mut centroids = Mat::default();
    let count = imgproc::connected_components_with_stats(
        mask,
        &mut labels,
        &mut stats,
        &mut centroids,
        8,
        core::CV_32S,
    )?;
    if count <= 1 {
        return Ok(mask.try_clone()?);
    }
    let inside = seed.x >= 0 && seed.y >= 0 && seed.x < mask.cols() && seed.y < mask.rows();
    let mut label = if inside {
        *labels.at_2d::<i32>(seed.y, seed.x)?
    } else {
        0
    };
    if label == 0 {
        let mut best = 0;
        for l in 1..count {
            let area = *stats.at_2d::<i32>(l, imgproc::CC_STAT_AREA)?;
            if area > best {
                best = area;
                label = l;
            }
        }
    }
    let mut out = Mat::default();
    core::compare(
        &labels,
        &Scalar::all(f64::from(label)),
        &mut out,
        core::CMP_EQ,
    )?;
    Ok(out)
}

/// How wide her outline is around row `y`: for each row within `spread` of `y`, the
/// first and last pixel on her within `reach` of `x` (holes inside the outline do not
/// matter), and the median of those over the rows, as (left, right) in pixels. `None`
/// when the rows are outside the picture or nothing of her is there.
pub fn extent_near(
    mask: &Mat,
    y: f32,
    x: f32,
    reach: f32,
    spread: f32,
) -> Result<Option<(f32, f32)>, TryonError> {
    let (cols, rows) = (mask.cols(), mask.rows());
    let x0 = ((x - reach).round() as i32).clamp(0, cols);
    let x1 = ((x + reach).round() as i32).clamp(0, cols);
    let (mut lefts, mut rights) = (Vec::new(), Vec::new());
    let (y0, y1) = ((y - spread).round() as i32, (y + spread).round() as i32);
    for row in y0.max(0)..=y1.min(rows - 1) {
        let line = &mask.at_row::<u8>(row)?[x0 as usize..x1 as usize];
        if let (Some(first), Some(last)) = (
            line.iter().position(|&v| v != 0),
            line.iter().rposition(|&v| v != 0),
        ) {
            lefts.push((x0 as usize + first) as f32);
            rights.push((x0 as usize + last + 1) as f32);
        }
    }
    if lefts.is_empty() {
        return Ok(None);
    }
    lefts.sort_by(f32::total_cmp);
    rights.sort_by(f32::total_cmp);
    Ok(Some((lefts[lefts.len() / 2], rights[rights.len() / 2])))
}

/// Where her outline starts going down the columns `x0..x1`, looking from `from_y`
/// downwards: the median over the columns of the first row on her (`None` when no
/// column meets her). Beside the neck this is the top of the shoulders.
pub fn top_in_columns(
    mask: &Mat,
    x0: f32,
    x1: f32,
    from_y: f32,
) -> Result<Option<f32>, TryonError> {
    let (cols, rows) = (mask.cols(), mask.rows());
    let (x0, x1) = ((x0.round() as i32).max(0), (x1.round() as i32).min(cols));
    let start = (from_y.round() as i32).clamp(0, rows);
    let mut tops = Vec::new();
    for x in x0..x1 {
        for y in start..rows {
            if *mask.at_2d::<u8>(y, x)? != 0 {
                tops.push(y as f32);
                break;
            }
        }
    }
    if tops.is_empty() {
        return Ok(None);
    }
    tops.sort_by(f32::total_cmp);
    Ok(Some(tops[tops.len() / 2]))
}

/// Skin like her face's below `from_y` (hands and forearms in front of her clothes):
/// 255 where it is, same size as `image` (8-bit, RGB order). Skin that reaches up to
/// `from_y` is left out: that is a neckline, which the new garment covers.
pub fn skin_mask(image: &Mat, body: &Body, from_y: f32) -> Result<Mat, TryonError> {
    let (width, height) = (image.cols(), image.rows());
    let mut ycrcb = Mat::default();
    imgproc::cvt_color_def(image, &mut ycrcb, imgproc::COLOR_RGB2YCrCb)?;
    let face = body.face;
    // The cheeks and nose: the middle of the face box, clear of hair and background.
    let core_rect = Rect::new(
        (face.x + 0.3 * face.w) as i32,
        (face.y + 0.35 * face.h) as i32,
        ((0.4 * face.w) as i32).max(1),
        ((0.4 * face.h) as i32).max(1),
    ) & Rect::new(0, 0, width, height);
    let mut skin = Mat::new_rows_cols_with_default(height, width, core::CV_8UC1, Scalar::all(0.0))?;
    if core_rect.width < 2 || core_rect.height < 2 {
        return Ok(skin);
    }
    let sample = Mat::roi(&ycrcb, core_rect)?;
    let mut mean = Mat::default();
    let mut stddev = Mat::default();
    core::mean_std_dev(&sample, &mut mean, &mut stddev, &core::no_array())?;
    let m = |i: i32| -> Result<f64, TryonError> { Ok(*mean.at::<f64>(i)?) };
    let s = |i: i32| -> Result<f64, TryonError> { Ok(*stddev.at::<f64>(i)?) };
    let (y_mean, cr, cb) = (m(0)?, m(1)?, m(2)?);
    let (cr_tol, cb_tol) = (2.5 * s(1)?.max(4.0), 2.5 * s(2)?.max(4.0));
    let lower = Scalar::new(y_mean * 0.4, cr - cr_tol, cb - cb_tol, 0.0);
    let upper = Scalar::new(255.0, cr + cr_tol, cb + cb_tol, 0.0);
    let start = (from_y.max(0.0) as i32).min(height);
    if start >= height {
        return Ok(skin);
    }
    let band = Rect::new(0, start, width, height - start);
    let mut in_range = Mat::default();
    core::in_range(&Mat::roi(&ycrcb, band)?, &lower, &upper, &mut in_range)?;
    // Opening with a disc a tenth of the face wide leaves only solid blobs (palms,
    // forearms) and drops straps, seams and specks of skin colour; the fingers and
    // edges next to a kept blob are then given back (skin within two discs of it).
    let size = ((face.w / 10.0).round() as i32).max(3) | 1;
    let kernel = imgproc::get_structuring_element(
        imgproc::MORPH_ELLIPSE,
        Size::new(size, size),
        CvPoint::new(-1, -1),
    )?;
    let mut cores = Mat::default();
    imgproc::morphology_ex(
        &in_range,
        &mut cores,
        imgproc::MORPH_OPEN,
        &kernel,
        CvPoint::new(-1, -1),
        1,
        core::BORDER_CONSTANT,
        imgproc::morphology_default_border_value()?,
    )?;
    let mut near_cores = Mat::default();
    imgproc::dilate(
        &cores,
        &mut near_cores,
        &kernel,
        CvPoint::new(-1, -1),
        2,
        core::BORDER_CONSTANT,
        imgproc::morphology_default_border_value()?,
    )?;
    let mut opened = Mat::default();
    core::bitwise_and(&in_range, &near_cores, &mut opened, &core::no_array())?;
    // Drop parts touching the band's top (a neckline) and specks.
    let mut labels = Mat::default();
    let mut stats = Mat::default();
    let mut centroids = Mat::default();
    let count = imgproc::connected_components_with_stats(
        &opened,
        &mut labels,
        &mut stats,
        &mut centroids,
        8,
        core::CV_32S,
    )?;
    let min_area = (0.04 * face.w * face.h) as i32;
    let mut keep = vec![false; count.max(0) as usize];
    for l in 1..count {
        let top = *stats.at_2d::<i32>(l, imgproc::CC_STAT_TOP)?;
        let area = *stats.at_2d::<i32>(l, imgproc::CC_STAT_AREA)?;
        keep[l as usize] = top > 0 && area >= min_area;
    }
    let mut skin_band = Mat::roi_mut(&mut skin, band)?;
    for row in 0..labels.rows() {
        let labels_row = labels.at_row::<i32>(row)?;
        let out_row = skin_band.at_row_mut::<u8>(row)?;
        for (out, &l) in out_row.iter_mut().zip(labels_row) {
            if l > 0 && keep[l as usize] {
                *out = 255;
            }
        }
    }
    Ok(skin)
}
