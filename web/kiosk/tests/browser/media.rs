//! What the browser's fake camera and microphone play: Chromium reads a camera from a
//! YUV4MPEG2 file and a microphone from a WAV file (`--use-file-for-fake-video-capture`,
//! `--use-file-for-fake-audio-capture`), so the page under test runs its real capture
//! code (getUserMedia, canvas JPEG, AudioWorklet) on known input.

use std::fs::File;
use std::io::{BufWriter, Cursor, Write};
use std::path::Path;

use image::{DynamicImage, Rgb, RgbImage, imageops};

/// The kiosk page asks for 640×480 (`ideal`); giving exactly that means Chromium
/// neither crops nor rescales the frames on the way to the page.
pub const CAMERA_WIDTH: u32 = 640;
/// See [`CAMERA_WIDTH`].
pub const CAMERA_HEIGHT: u32 = 480;

/// The photo as a 640×480 camera picture: scaled to fit whole (a portrait keeps her
/// face, shoulders and chest, which the try-on dresses) on a neutral grey background,
/// like a person standing in front of a kiosk camera.
pub fn camera_picture(photo: &DynamicImage) -> RgbImage {
    let fitted = photo
        .resize(CAMERA_WIDTH, CAMERA_HEIGHT, imageops::FilterType::Lanczos3)
        .to_rgb8();
    let mut picture = RgbImage::from_pixel(CAMERA_WIDTH, CAMERA_HEIGHT, Rgb([128, 128, 128]));
    let x = (CAMERA_WIDTH - fitted.width()) / 2;
    let y = (CAMERA_HEIGHT - fitted.height()) / 2;
    imageops::overlay(&mut picture, &fitted, i64::from(x), i64::from(y));
    picture
}

/// BT.601 studio-range luma of one RGB pixel (what Chromium assumes for I420 camera
/// frames), rounded.
fn luma(r: i32, g: i32, b: i32) -> u8 {
    clamp_u8(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16)
}

/// BT.601 studio-range chroma (Cb, Cr) of one RGB pixel, rounded.
fn chroma(r: i32, g: i32, b: i32) -> (u8, u8) {
    let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
    let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
    (clamp_u8(u), clamp_u8(v))
}

fn clamp_u8(value: i32) -> u8 {
    // In range after the clamp, so the conversion cannot fail.
    u8::try_from(value.clamp(0, 255)).unwrap_or(u8::MAX)
}

/// One I420 frame (planar Y, then U and V at half resolution both ways) of an RGB
/// image with even sides. Chroma is taken from the mean colour of each 2×2 block.
pub fn rgb_to_i420(image: &RgbImage) -> Vec<u8> {
    let (width, height) = image.dimensions();
    assert!(
        width % 2 == 0 && height % 2 == 0,
        "I420 needs even sides, got {width}×{height}"
    );
    let (w, h) = (width as usize, height as usize);
    let mut out = Vec::with_capacity(w * h * 3 / 2);
    for Rgb([r, g, b]) in image.pixels() {
        out.push(luma(i32::from(*r), i32::from(*g), i32::from(*b)));
    }
    let mut u_plane = Vec::with_capacity(w * h / 4);
    let mut v_plane = Vec::with_capacity(w * h / 4);
    for y in (0..height).step_by(2) {
        for x in (0..width).step_by(2) {
            let mut sum = [0i32; 3];
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let Rgb(pixel) = image.get_pixel(x + dx, y + dy);
                for (total, channel) in sum.iter_mut().zip(pixel) {
                    *total += i32::from(*channel);
                }
            }
            let [r, g, b] = sum.map(|total| (total + 2) / 4);
            let (u, v) = chroma(r, g, b);
            u_plane.push(u);
            v_plane.push(v);
        }
    }
    out.extend_from_slice(&u_plane);
    out.extend_from_slice(&v_plane);
    out
}

/// Writes `seconds` of the same picture as a YUV4MPEG2 file at `fps` (Chromium loops
/// the file, so a short one is a camera that never stops).
pub fn write_y4m(path: &Path, picture: &RgbImage, fps: u32, seconds: u32) -> std::io::Result<()> {
    let frame = rgb_to_i420(picture);
    let mut out = BufWriter::new(File::create(path)?);
    writeln!(
        out,
        "YUV4MPEG2 W{} H{} F{fps}:1 Ip A1:1 C420jpeg",
        picture.width(),
        picture.height()
    )?;
    for _ in 0..fps * seconds {
        out.write_all(b"FRAME\n")?;
        out.write_all(&frame)?;
    }
    out.flush()
}

/// A piece of the microphone track.
pub enum Part<'a> {
    /// Nothing heard for this many seconds.
    Silence(f32),
    /// Speech, a WAV file's bytes (mono, 16-bit, all at one rate).
    Speech(&'a [u8]),
}

/// Mono 16-bit samples of a WAV file and its sample rate.
pub fn read_wav(bytes: &[u8]) -> Result<(u32, Vec<i16>), String> {
    let reader =
        hound::WavReader::new(Cursor::new(bytes)).map_err(|e| format!("not a WAV: {e}"))?;
    let spec = reader.spec();
    if spec.channels != 1
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
    {
        return Err(format!("expected mono 16-bit PCM, got {spec:?}"));
    }
    let samples = reader
        .into_samples::<i16>()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad WAV samples: {e}"))?;
    Ok((spec.sample_rate, samples))
}

/// Writes the parts one after the other as one mono 16-bit WAV file at the speech's
/// rate; returns where each speech part starts, in seconds from the beginning.
pub fn write_microphone(path: &Path, parts: &[Part<'_>]) -> Result<Vec<f32>, String> {
    let mut rate = None;
    let mut speech = Vec::new();
    for part in parts {
        if let Part::Speech(bytes) = part {
            let (part_rate, samples) = read_wav(bytes)?;
            if rate.is_some_and(|r| r != part_rate) {
                return Err(format!("speech at {part_rate} Hz and at {rate:?} Hz"));
            }
            rate = Some(part_rate);
            speech.push(samples);
        }
    }
    let rate = rate.ok_or("no speech in the microphone track")?;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).map_err(|e| e.to_string())?;
    let mut written: u64 = 0;
    let mut starts = Vec::new();
    let mut speech = speech.into_iter();
    for part in parts {
        match part {
            Part::Silence(seconds) => {
                // Whole samples of silence; the fraction lost is below 50 µs.
                let count = (seconds * rate as f32).round() as u64;
                for _ in 0..count {
                    writer.write_sample(0i16).map_err(|e| e.to_string())?;
                }
                written += count;
            }
            Part::Speech(_) => {
                starts.push(written as f32 / rate as f32);
                let samples = speech.next().unwrap_or_default();
                for sample in &samples {
                    writer.write_sample(*sample).map_err(|e| e.to_string())?;
                }
                written += samples.len() as u64;
            }
        }
    }
    writer.finalize().map_err(|e| e.to_string())?;
    Ok(starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_colours_convert_to_their_bt601_studio_values() {
        // (R, G, B) and the exact BT.601 studio-range (Y, Cb, Cr): Y' = 16 + 219·E'y,
        // Cb = 128 + 224·(E'b − E'y)/1.772, Cr = 128 + 224·(E'r − E'y)/1.402.
        let reference = [
            ([0, 0, 0], [16.0, 128.0, 128.0]),
            ([255, 255, 255], [235.0, 128.0, 128.0]),
            ([255, 0, 0], [81.481, 90.203, 240.0]),
            ([0, 255, 0], [144.553, 53.797, 34.214]),
            ([0, 0, 255], [40.966, 240.0, 109.786]),
        ];
        for ([r, g, b], expected) in reference {
            let (u, v) = chroma(r, g, b);
            let got = [luma(r, g, b), u, v];
            for (got, expected) in got.iter().zip(expected) {
                assert!(
                    (f32::from(*got) - expected).abs() <= 1.0,
                    "({r}, {g}, {b}) gives {got:?}, expected {expected:?}"
                );
            }
        }
    }

    #[test]
    fn an_i420_frame_has_full_luma_and_quarter_chroma_planes() {
        // Left half red, right half blue, 4×2: two chroma blocks, one of each colour.
        let image = RgbImage::from_fn(4, 2, |x, _| {
            if x < 2 {
                Rgb([255, 0, 0])
            } else {
                Rgb([0, 0, 255])
            }
        });
        let frame = rgb_to_i420(&image);
        assert_eq!(frame.len(), 4 * 2 + 2 + 2);
        assert_eq!(&frame[..8], &[82, 82, 41, 41, 82, 82, 41, 41]);
        assert_eq!(
            &frame[8..10],
            &[90, 240],
            "U of the red block, then the blue one"
        );
        assert_eq!(
            &frame[10..12],
            &[240, 110],
            "V of the red block, then the blue one"
        );
    }

    #[test]
    fn chroma_is_the_mean_colour_of_each_block() {
        // A 2×2 block of black and white averages to grey: no colour at all.
        let image = RgbImage::from_fn(2, 2, |x, y| {
            if (x + y) % 2 == 0 {
                Rgb([0, 0, 0])
            } else {
                Rgb([255, 255, 255])
            }
        });
        let frame = rgb_to_i420(&image);
        assert_eq!(&frame[..4], &[16, 235, 235, 16]);
        assert_eq!(&frame[4..], &[128, 128]);
    }

    #[test]
    #[should_panic(expected = "even sides")]
    fn odd_sides_are_refused() {
        rgb_to_i420(&RgbImage::new(3, 2));
    }

    #[test]
    fn a_portrait_is_fitted_whole_into_the_camera_picture() {
        let photo = DynamicImage::ImageRgb8(RgbImage::from_pixel(300, 600, Rgb([255, 0, 0])));
        let picture = camera_picture(&photo);
        assert_eq!(picture.dimensions(), (CAMERA_WIDTH, CAMERA_HEIGHT));
        assert_eq!(
            picture.get_pixel(320, 240),
            &Rgb([255, 0, 0]),
            "the photo, centred"
        );
        assert_eq!(picture.get_pixel(320, 0), &Rgb([255, 0, 0]), "full height");
        assert_eq!(
            picture.get_pixel(0, 240),
            &Rgb([128, 128, 128]),
            "grey beside it"
        );
    }

    #[test]
    fn the_microphone_track_puts_speech_between_silences() {
        let dir = tempfile::tempdir().unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 1000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut speech = Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut speech, spec).unwrap();
        for sample in [1i16, 2, 3] {
            writer.write_sample(sample).unwrap();
        }
        writer.finalize().unwrap();
        let speech = speech.into_inner();
        let path = dir.path().join("mic.wav");
        let starts = write_microphone(
            &path,
            &[
                Part::Silence(0.002),
                Part::Speech(&speech),
                Part::Silence(0.001),
                Part::Speech(&speech),
            ],
        )
        .unwrap();
        assert_eq!(starts, vec![0.002, 0.006]);
        let (rate, samples) = read_wav(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(rate, 1000);
        assert_eq!(samples, vec![0, 0, 1, 2, 3, 0, 1, 2, 3]);
    }
}
