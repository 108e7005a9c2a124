//! One try-on, start to end, on a worker thread:
//!
//! 1. a reduced copy of the photo (`analysis_side` on its long side) for the analysis;
//! 2. her face (Haar cascade, the surest detection) and the body placed below it ([`crate::body`]);
//! 3. her outline (GrabCut, [`crate::mask::person_mask`]), which corrects the shoulder
//!    and hip widths and the lean;
//! 4. the garment drawn at the resolution her body needs and warped onto her with a
//!    thin-plate spline through matching template and body points ([`crate::tps`],
//!    [`crate::garment::correspondences`]);
//! 5. the garment kept inside her outline and behind her hands and forearms (skin like
//!    her face's below the chest) and her head;
//! 6. shaded by the light and folds of what she wears ([`crate::shade`]): the
//!    lightness of her garment's dominant colour relative to its mean, filled in
//!    across other fabrics (a shirt, a tie) so they do not print through;
//! 7. blended with feathered edges. Her face box is never written.

use std::time::{Duration, Instant};

use image::RgbImage;
use opencv::core::{self, Mat, Rect, Scalar, Size};
use opencv::imgproc;
use opencv::prelude::*;
use protocol::catalog::Product;
use protocol::vision::BoundingBox;

use crate::body::{Body, FaceBox};
use crate::error::TryonError;
use crate::face::FaceDetector;
use crate::garment::{self, GarmentPicture, Kind, TEMPLATE_SHOULDER_HALF};
use crate::mask;
use crate::shade;
use crate::tps::ThinPlateSpline;
use image_input::ImageLimits;

/// The garment to put on.
pub enum GarmentSource {
    /// A catalogue product with its catalogue image (PNG). When the image is what the
    /// shared templates draw for the product, the garment is drawn again at the
    /// photo's resolution; otherwise the image itself is used.
    Product {
        /// The product record.
        product: Box<Product>,
        /// Its image as the catalog serves it.
        image_png: Vec<u8>,
    },
    /// A garment picture (transparent background) of a category.
    Picture {
        /// The picture.
        image: image::RgbaImage,
        /// Its category.
        category: String,
    },
}

/// Time spent in each stage of one try-on, for metrics and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stages {
    /// Reducing the photo and finding the face.
    pub face: Duration,
    /// GrabCut outline, body correction and skin.
    pub outline: Duration,
    /// Drawing the garment for her size.
    pub garment: Duration,
    /// Fitting the spline and warping the garment.
    pub warp: Duration,
    /// Masks at full size, shading and blending.
    pub blend: Duration,
}

impl Stages {
    /// The stages with their names, in order.
    pub fn named(&self) -> [(&'static str, Duration); 5] {
        [
            ("face", self.face),
            ("outline", self.outline),
            ("garment", self.garment),
            ("warp", self.warp),
            ("blend", self.blend),
        ]
    }
}

/// What a try-on produced.
pub struct Fitted {
    /// The photo with the garment on, same size.
    pub image: RgbImage,
    /// Bounding box of the visible garment, `None` if nothing of it is visible.
    pub region: Option<BoundingBox>,
    /// The body it was fitted to.
    pub body: Body,
    /// Where the time went.
    pub stages: Stages,
}

/// Settings of the analysis.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Long side of the reduced analysis copy.
    pub analysis_side: u32,
    /// Limits for a catalogue image that is decoded.
    pub limits: ImageLimits,
}

/// Grid step, in pixels, at which the spline is evaluated (bilinear in between).
const GRID: usize = 8;

/// Puts `garment` (worn as `kind`) on the person in `photo`.
pub fn try_on(
    photo: RgbImage,
    garment: GarmentSource,
    kind: Kind,
    detector: &FaceDetector,
    settings: Settings,
) -> Result<Fitted, TryonError> {
    let (width, height) = photo.dimensions();
    let mut stages = Stages::default();
    let mut clock = Instant::now();
    let mut lap = || {
        let now = Instant::now();
        let spent = now - clock;
        clock = now;
        spent
    };

    // 1. The analysis copy (the photo itself is read in place, not copied).
    let long = width.max(height) as f32;
    let a = (settings.analysis_side as f32 / long).min(1.0);
    let small_size = Size::new(
        ((width as f32 * a).round() as i32).max(1),
        ((height as f32 * a).round() as i32).max(1),
    );
    let mut small = Mat::default();
    {
        let rows = i32::try_from(height).map_err(|e| TryonError::Internal(e.to_string()))?;
        let full = Mat::from_slice(photo.as_raw())?;
        let full = full.reshape(3, rows)?;
        imgproc::resize(&full, &mut small, small_size, 0.0, 0.0, imgproc::INTER_AREA)?;
    }

    // 2. Face and body.
    let mut grey = Mat::default();
    imgproc::cvt_color_def(&small, &mut grey, imgproc::COLOR_RGB2GRAY)?;
    let mut equalised = Mat::default();
    imgproc::equalize_hist(&grey, &mut equalised)?;
    let face = detector
        .customer_face(&equalised)?
        .ok_or(TryonError::NoPerson)?;
    let mut body = Body::from_face(FaceBox {
        x: face.x as f32 / a,
        y: face.y as f32 / a,
        w: face.width as f32 / a,
        h: face.height as f32 / a,
    });

    stages.face = lap();

    // 3. Her outline, and the body corrected by it.
    let person_small = mask::person_mask(&small, &body.scaled(a))?;
    let seen = body.scaled(a);
    let (near, far) = seen.shoulder_columns();
    let from = seen.face.y + 0.5 * seen.fh();
    let left = mask::top_in_columns(&person_small, seen.chest_x - far, seen.chest_x - near, from)?;
    let right = mask::top_in_columns(&person_small, seen.chest_x + near, seen.chest_x + far, from)?;
    body.lift_shoulders(left.map(|y| y / a), right.map(|y| y / a));
    let seen = body.scaled(a);
    let (reach, spread) = (1.8 * seen.u(), 0.1 * seen.fh());
    let chest = mask::extent_near(&person_small, seen.chest_row(), seen.chest_x, reach, spread)?;
    let hips = if seen.hip_y < small_size.height as f32 - 2.0 {
        mask::extent_near(&person_small, seen.hip_y, seen.hip_x, reach, spread)?
    } else {
        None
    };
    let unscale = |e: Option<(f32, f32)>| e.map(|(l, r)| (l / a, r / a));
    body.refine(unscale(chest), unscale(hips));
    let skin_small = mask::skin_mask(&small, &body.scaled(a), body.scaled(a).chest_row())?;

    stages.outline = lap();

    // 4. The garment, drawn for her size, and the warp.
    let picture = match garment {
        GarmentSource::Product { product, image_png } => {
            let scale = (body.shoulder_half / TEMPLATE_SHOULDER_HALF).clamp(0.5, 6.0);
            if garment_art::render_product_image(&product) == image_png {
                garment::product_picture(&product, scale)?
            } else {
                let image =
                    image_input::check("catalogue image", image_png, settings.limits)?.rgba()?;
                garment::picture(image, &product.category)?
            }
        }
        GarmentSource::Picture { image, category } => garment::picture(image, &category)?,
    };
    stages.garment = lap();
    let pairs = garment::correspondences(kind, &body);
    let (template, on_body): (Vec<[f64; 2]>, Vec<[f64; 2]>) = pairs.into_iter().unzip();
    let spline = ThinPlateSpline::fit(&on_body, &template, 0.0)
        .map_err(|e| TryonError::Internal(e.to_string()))?;

    let roi = region_of_interest(&on_body, &body, width, height);
    if roi.width <= 0 || roi.height <= 0 {
        return Ok(Fitted {
            image: photo,
            region: None,
            body,
            stages,
        });
    }
    let warped = warp(&picture, &spline, roi)?;

    stages.warp = lap();

    // 5. Where she is, and what is in front of her clothes, at full size in the ROI.
    let u = body.u();
    let grow = odd((0.06 * u * a).round() as i32).max(3);
    let mut grown = Mat::default();
    imgproc::dilate(
        &person_small,
        &mut grown,
        &imgproc::get_structuring_element(
            imgproc::MORPH_ELLIPSE,
            Size::new(grow, grow),
            core::Point::new(-1, -1),
        )?,
        core::Point::new(-1, -1),
        1,
        core::BORDER_CONSTANT,
        imgproc::morphology_default_border_value()?,
    )?;
    let feather = (0.02 * u).max(1.0);
    let person = upscale_roi(&grown, a, roi, feather)?;
    let skin = upscale_roi(&skin_small, a, roi, feather)?;

    // 6. Shading from her current clothes.
    let shade_small = shade::shading(&small, &person_small, &body.scaled(a))?;
    let shade = upscale_float(&shade_small, width, height, roi)?;

    // 7. Blend.
    let mut out = photo;
    let region = blend(&mut out, &warped, &person, &skin, &shade, roi, &body)?;
    stages.blend = lap();
    Ok(Fitted {
        image: out,
        region,
        body,
        stages,
    })
}

fn odd(n: i32) -> i32 {
    if n % 2 == 0 { n + 1 } else { n }
}

/// The part of the photo the garment can reach: the body points with a margin,
/// clipped to the picture.
fn region_of_interest(points: &[[f64; 2]], body: &Body, width: u32, height: u32) -> Rect {
    let margin = f64::from(0.8 * body.u());
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::from(body.chin_y), f64::MIN, f64::MIN);
    for p in points {
        x0 = x0.min(p[0] - margin);
        x1 = x1.max(p[0] + margin);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1] + margin);
    }
    let x0 = x0.clamp(0.0, f64::from(width)) as i32;
    let x1 = x1.clamp(0.0, f64::from(width)) as i32;
    let y0 = y0.clamp(0.0, f64::from(height)) as i32;
    let y1 = y1.clamp(0.0, f64::from(height)) as i32;
    Rect::new(x0, y0, (x1 - x0).max(0), (y1 - y0).max(0))
}

/// The garment warped into the ROI: for every pixel, the spline gives the template
/// point that lands there, and the picture is sampled at it (premultiplied RGBA).
fn warp(picture: &GarmentPicture, spline: &ThinPlateSpline, roi: Rect) -> Result<Mat, TryonError> {
    let (w, h) = (roi.width as usize, roi.height as usize);
    let (gw, gh) = (w.div_ceil(GRID) + 1, h.div_ceil(GRID) + 1);
    let mut grid = vec![(0.0f32, 0.0f32); gw * gh];
    for gy in 0..gh {
        for gx in 0..gw {
            let x = f64::from(roi.x) + (gx * GRID) as f64;
            let y = f64::from(roi.y) + (gy * GRID) as f64;
            let t = spline.map(x, y);
            grid[gy * gw + gx] = picture.to_pixels(t[0] as f32, t[1] as f32);
        }
    }
    let mut map_x =
        Mat::new_rows_cols_with_default(roi.height, roi.width, core::CV_32FC1, Scalar::all(0.0))?;
    let mut map_y =
        Mat::new_rows_cols_with_default(roi.height, roi.width, core::CV_32FC1, Scalar::all(0.0))?;
    {
        let xs = map_x.data_typed_mut::<f32>()?;
        let ys = map_y.data_typed_mut::<f32>()?;
        for y in 0..h {
            let (gy, fy) = (y / GRID, (y % GRID) as f32 / GRID as f32);
            for x in 0..w {
                let (gx, fx) = (x / GRID, (x % GRID) as f32 / GRID as f32);
                let at = |i: usize, j: usize| grid[j * gw + i];
                let (p00, p10, p01, p11) = (
                    at(gx, gy),
                    at(gx + 1, gy),
                    at(gx, gy + 1),
                    at(gx + 1, gy + 1),
                );
                let lerp = |a: f32, b: f32, t: f32| a + (b - a) * t;
                let top = (lerp(p00.0, p10.0, fx), lerp(p00.1, p10.1, fx));
                let bottom = (lerp(p01.0, p11.0, fx), lerp(p01.1, p11.1, fx));
                xs[y * w + x] = lerp(top.0, bottom.0, fy);
                ys[y * w + x] = lerp(top.1, bottom.1, fy);
            }
        }
    }
    let mut warped = Mat::default();
    imgproc::remap(
        &picture.pixels,
        &mut warped,
        &map_x,
        &map_y,
        imgproc::INTER_LINEAR,
        core::BORDER_CONSTANT,
        Scalar::all(0.0),
    )?;
    Ok(warped)
}

/// A mask of the analysis copy brought to full size over the ROI and feathered.
fn upscale_roi(mask_small: &Mat, a: f32, roi: Rect, feather: f32) -> Result<Mat, TryonError> {
    // The ROI in the small picture, with a pixel of margin for interpolation.
    let small_bounds = Rect::new(0, 0, mask_small.cols(), mask_small.rows());
    let sx0 = ((roi.x as f32 * a).floor() as i32 - 1).max(0);
    let sy0 = ((roi.y as f32 * a).floor() as i32 - 1).max(0);
    let sx1 = (((roi.x + roi.width) as f32 * a).ceil() as i32 + 1).min(mask_small.cols());
    let sy1 = (((roi.y + roi.height) as f32 * a).ceil() as i32 + 1).min(mask_small.rows());
    let part = Rect::new(sx0, sy0, (sx1 - sx0).max(1), (sy1 - sy0).max(1)) & small_bounds;
    // The same area at full size.
    let fx0 = (part.x as f32 / a).round() as i32;
    let fy0 = (part.y as f32 / a).round() as i32;
    let fw = ((part.width as f32 / a).round() as i32).max(1);
    let fh = ((part.height as f32 / a).round() as i32).max(1);
    let mut big = Mat::default();
    imgproc::resize(
        &Mat::roi(mask_small, part)?,
        &mut big,
        Size::new(fw, fh),
        0.0,
        0.0,
        imgproc::INTER_LINEAR,
    )?;
    let mut blurred = Mat::default();
    imgproc::gaussian_blur_def(&big, &mut blurred, Size::new(0, 0), f64::from(feather))?;
    // Cut the ROI out (padding with zeros where the rounding fell short).
    let mut out =
        Mat::new_rows_cols_with_default(roi.height, roi.width, core::CV_8UC1, Scalar::all(0.0))?;
    let inside =
        Rect::new(fx0 - roi.x, fy0 - roi.y, fw, fh) & Rect::new(0, 0, roi.width, roi.height);
    if inside.width > 0 && inside.height > 0 {
        let source = Rect::new(
            inside.x + roi.x - fx0,
            inside.y + roi.y - fy0,
            inside.width,
            inside.height,
        );
        let mut target = Mat::roi_mut(&mut out, inside)?;
        Mat::roi(&blurred, source)?.copy_to(&mut target)?;
    }
    Ok(out)
}

/// A float image of the analysis copy brought to the photo's size (`width` ×
/// `height`), cut to the ROI.
fn upscale_float(small: &Mat, width: u32, height: u32, roi: Rect) -> Result<Mat, TryonError> {
    let mut big = Mat::default();
    imgproc::resize(
        small,
        &mut big,
        Size::new(width as i32, height as i32),
        0.0,
        0.0,
        imgproc::INTER_LINEAR,
    )?;
    Ok(Mat::roi(&big, roi)?.try_clone()?)
}

/// Composites the warped garment into `out` over the ROI; returns the bounding box of
/// what is visible of it.
fn blend(
    out: &mut RgbImage,
    warped: &Mat,
    person: &Mat,
    skin: &Mat,
    shade: &Mat,
    roi: Rect,
    body: &Body,
) -> Result<Option<BoundingBox>, TryonError> {
    let width = out.width() as usize;
    let face = body.face;
    // Her face box (a little wider) is never written, nor her head above the chin.
    let guard_x0 = face.x - 0.05 * face.w;
    let guard_x1 = face.x + 1.05 * face.w;
    let head_x0 = face.cx() - 0.8 * face.w;
    let head_x1 = face.cx() + 0.8 * face.w;
    let (fy0, fy1) = (face.y, face.y + face.h);
    let warped = warped.data_bytes()?;
    let person = person.data_bytes()?;
    let skin = skin.data_bytes()?;
    let shade = shade.data_typed::<f32>()?;
    let pixels: &mut [u8] = out;
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    let roi_w = roi.width as usize;
    for ry in 0..roi.height as usize {
        let y = roi.y as usize + ry;
        let yf = y as f32;
        for rx in 0..roi_w {
            let i = ry * roi_w + rx;
            let g = &warped[i * 4..i * 4 + 4];
            if g[3] == 0 {
                continue;
            }
            let x = roi.x as usize + rx;
            let xf = x as f32;
            if (yf >= fy0 && yf < fy1 && xf >= guard_x0 && xf < guard_x1)
                || (yf < body.chin_y && xf >= head_x0 && xf < head_x1)
            {
                continue;
            }
            let coverage = f32::from(g[3]) / 255.0;
            let visible = f32::from(person[i]) / 255.0 * (1.0 - f32::from(skin[i]) / 255.0);
            let alpha = coverage * visible;
            if alpha <= 1.0 / 255.0 {
                continue;
            }
            let light = shade[i];
            let p = (y * width + x) * 3;
            for c in 0..3 {
                // Premultiplied colour over the coverage gives the garment's own colour.
                let colour = (f32::from(g[c]) / coverage * light).min(255.0);
                let under = f32::from(pixels[p + c]);
                pixels[p + c] = (colour * alpha + under * (1.0 - alpha)).round() as u8;
            }
            if alpha > 0.5 {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x + 1);
                y1 = y1.max(y + 1);
            }
        }
    }
    Ok((x0 < x1).then(|| BoundingBox {
        x: x0 as f32,
        y: y0 as f32,
        width: (x1 - x0) as f32,
        height: (y1 - y0) as f32,
    }))
}
