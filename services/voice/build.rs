//! Link-time glue for piper-rs's espeak-ng.
//!
//! espeak-rs-sys builds espeak-ng with CMake. When the system has libsonic
//! (Debian `libsonic-dev`, installed by scripts/setup.sh), espeak-ng's CMake links it
//! instead of `git clone`-ing sonic (which fails offline), but espeak-rs-sys does not
//! tell rustc to link it, so the final link misses `sonicCreateStream` and friends.

use std::path::PathBuf;

fn main() {
    println!("cargo:rustc-link-lib=sonic");
    // espeak-rs-sys installs its espeak-ng-data under its own OUT_DIR in
    // `<profile dir>/build/espeak-rs-sys-*/out/share`. Build scripts of dependencies
    // without `links` are not ordered before ours, so the exact folder cannot be
    // looked up here; the profile dir is passed on and searched at run time
    // (`tts::espeak`), only to report and check where the data is.
    if let Some(out_dir) = std::env::var_os("OUT_DIR") {
        // OUT_DIR is `<profile dir>/build/voice-<hash>/out`.
        if let Some(profile_dir) = PathBuf::from(out_dir).ancestors().nth(3) {
            println!(
                "cargo:rustc-env=VOICE_PROFILE_DIR={}",
                profile_dir.display()
            );
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
