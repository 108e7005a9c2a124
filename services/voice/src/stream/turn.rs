//! End-of-turn detection: a pure state machine fed VAD windows and their speech
//! probabilities (no I/O, no clock: time is counted in samples), so it is tested with
//! synthetic probabilities.
//!
//! Idle → speaking when `start_windows` windows in a row score at least `threshold`;
//! speaking continues while windows score at least `threshold - hysteresis` (Silero's
//! own rule: speech dips between syllables without ending). After `tail` of silence the
//! utterance is final unless speech comes back ([`TurnEvent::SilenceStarted`], the
//! moment to decode speculatively); after `end_of_turn` of silence the turn ends.
//! Only a window at or above `threshold` brings speech back from silence. A pause
//! longer than `max_pause` inside an utterance is shortened to it: the silence adds
//! nothing to the words, costs decoding time, and makes whisper tiny.en repeat itself.

use std::collections::VecDeque;

/// Samples per second of the audio this detector counts in.
const RATE: u32 = 16_000;

/// How the detector decides, in samples of 16 kHz audio.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnConfig {
    /// Probability at or above which a window is speech when not already speaking.
    pub threshold: f32,
    /// How far below `threshold` speech may dip and still continue.
    pub hysteresis: f32,
    /// Consecutive speech windows that start an utterance (one loud click is not speech).
    pub start_windows: usize,
    /// Audio kept before the first speech window: the VAD fires late on soft onsets
    /// ("f", "s"), and whisper needs them to get the first word.
    pub pre_roll: usize,
    /// Audio kept after the last speech window, for the same reason at the other end.
    /// Also the silence after which the utterance is decoded speculatively.
    pub tail: usize,
    /// Silence that ends the turn.
    pub end_of_turn: usize,
    /// Longest pause kept inside an utterance; a longer one keeps its first and last
    /// halves of this (the end of the word before, the soft onset of the one after).
    pub max_pause: usize,
    /// Longest utterance; the turn is forced to end there.
    pub max_utterance: usize,
}

impl TurnConfig {
    /// A configuration from the service's settings: end-of-turn silence and longest
    /// utterance as configured, 200 ms pre-roll, 96 ms tail, pauses kept up to 500 ms,
    /// hysteresis 0.15.
    pub fn new(threshold: f32, end_of_turn_silence_ms: u32, max_audio_seconds: f32) -> Self {
        let end_of_turn = ms(end_of_turn_silence_ms);
        TurnConfig {
            threshold,
            hysteresis: 0.15,
            start_windows: 2,
            pre_roll: ms(200),
            // The tail must come before the end of turn, or nothing is speculative.
            tail: ms(96).min(end_of_turn / 2),
            end_of_turn,
            max_pause: ms(500),
            max_utterance: (max_audio_seconds.max(0.5) * RATE as f32) as usize,
        }
    }

    fn release(&self) -> f32 {
        (self.threshold - self.hysteresis).max(0.0)
    }
}

/// Samples in `ms` milliseconds at 16 kHz.
fn ms(ms: u32) -> usize {
    (u64::from(ms) * u64::from(RATE) / 1000) as usize
}

/// What one window changed.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEvent {
    /// An utterance began (its audio starts up to `pre_roll` earlier).
    SpeechStarted,
    /// Speech has been silent for `tail`: [`TurnDetector::utterance`] is now what the
    /// final transcript will be made of, unless speech resumes.
    SilenceStarted,
    /// Speech came back after [`TurnEvent::SilenceStarted`]; a speculative decode is stale.
    SpeechResumed,
    /// The turn ended; the utterance, trimmed of silence beyond pre-roll and tail.
    EndOfTurn {
        /// 16 kHz samples to decode.
        utterance: Vec<f32>,
        /// True when the utterance reached `max_utterance` rather than ending in silence.
        forced: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// No utterance; `run` consecutive speech windows seen.
    Idle { run: usize },
    /// In an utterance; `silence` samples since the last speech window, and whether
    /// [`TurnEvent::SilenceStarted`] was reported for this silence.
    Speaking { silence: usize, announced: bool },
}

/// The turn detector of one stream.
#[derive(Debug, Clone)]
pub struct TurnDetector {
    config: TurnConfig,
    phase: Phase,
    /// While idle: the most recent audio, up to pre-roll plus the starting windows.
    recent: VecDeque<f32>,
    /// While speaking: the utterance's audio so far, silence included.
    audio: Vec<f32>,
    /// While speaking: `audio` up to the end of its last speech window.
    speech_end: usize,
}

impl TurnDetector {
    /// A detector with nothing heard yet.
    pub fn new(config: TurnConfig) -> Self {
        TurnDetector {
            config,
            phase: Phase::Idle { run: 0 },
            recent: VecDeque::new(),
            audio: Vec::new(),
            speech_end: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &TurnConfig {
        &self.config
    }

    /// True between [`TurnEvent::SpeechStarted`] and [`TurnEvent::EndOfTurn`].
    pub fn in_utterance(&self) -> bool {
        matches!(self.phase, Phase::Speaking { .. })
    }

    /// True while speaking and no silence is pending (the time for partials).
    pub fn speaking(&self) -> bool {
        matches!(
            self.phase,
            Phase::Speaking {
                announced: false,
                ..
            }
        )
    }

    /// True while speaking and the last window was speech: a partial started now is
    /// unlikely to be overtaken at once by the end of the speech (and then hold up the
    /// speculative decode that matters more).
    pub fn hearing_speech(&self) -> bool {
        matches!(self.phase, Phase::Speaking { silence: 0, .. })
    }

    /// The current utterance as it would be decoded now: pre-roll, speech, and at most
    /// `tail` of the silence after it. Empty when idle.
    pub fn utterance(&self) -> &[f32] {
        match self.phase {
            Phase::Idle { .. } => &[],
            Phase::Speaking { .. } => {
                let end = (self.speech_end + self.config.tail).min(self.audio.len());
                &self.audio[..end]
            }
        }
    }

    /// Scores one window (any length; the VAD's is 512 samples) and reports what changed.
    pub fn push(&mut self, window: &[f32], probability: f32) -> Option<TurnEvent> {
        match self.phase {
            Phase::Idle { run } => {
                self.recent.extend(window.iter().copied());
                let run = if probability >= self.config.threshold {
                    run + 1
                } else {
                    0
                };
                // Keep the pre-roll plus the windows of the current run of speech.
                let keep = self.config.pre_roll + run * window.len();
                while self.recent.len() > keep {
                    self.recent.pop_front();
                }
                if run >= self.config.start_windows.max(1) {
                    self.audio.clear();
                    self.audio.extend(self.recent.drain(..));
                    self.speech_end = self.audio.len();
                    self.phase = Phase::Speaking {
                        silence: 0,
                        announced: false,
                    };
                    Some(TurnEvent::SpeechStarted)
                } else {
                    self.phase = Phase::Idle { run };
                    None
                }
            }
            Phase::Speaking { silence, announced } => {
                let resumes = (silence == 0 && probability >= self.config.release())
                    || probability >= self.config.threshold;
                if resumes {
                    self.shorten_pause();
                }
                self.audio.extend_from_slice(window);
                let event = if resumes {
                    self.speech_end = self.audio.len();
                    self.phase = Phase::Speaking {
                        silence: 0,
                        announced: false,
                    };
                    announced.then_some(TurnEvent::SpeechResumed)
                } else {
                    let silence = silence + window.len();
                    if silence >= self.config.end_of_turn {
                        return Some(self.end(false));
                    }
                    let announce = !announced && silence >= self.config.tail;
                    self.phase = Phase::Speaking {
                        silence,
                        announced: announced || announce,
                    };
                    announce.then_some(TurnEvent::SilenceStarted)
                };
                if self.utterance().len() >= self.config.max_utterance {
                    return Some(self.end(true));
                }
                event
            }
        }
    }

    /// Ends the utterance (also when the stream closes mid-utterance); `None` if idle.
    pub fn finish(&mut self) -> Option<TurnEvent> {
        self.in_utterance().then(|| self.end(false))
    }

    /// Cuts the middle out of the silence since the last speech window, when speech
    /// resumes after a pause longer than `max_pause`.
    fn shorten_pause(&mut self) {
        let pause = self.audio.len() - self.speech_end;
        if pause > self.config.max_pause {
            let half = self.config.max_pause / 2;
            let cut_end = self.audio.len() - (self.config.max_pause - half);
            self.audio.drain(self.speech_end + half..cut_end);
        }
    }

    fn end(&mut self, forced: bool) -> TurnEvent {
        let mut utterance = self.utterance().to_vec();
        utterance.truncate(self.config.max_utterance);
        self.audio.clear();
        self.recent.clear();
        self.speech_end = 0;
        self.phase = Phase::Idle { run: 0 };
        TurnEvent::EndOfTurn { utterance, forced }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: usize = 512;

    fn config() -> TurnConfig {
        TurnConfig::new(0.5, 300, 30.0)
    }

    /// Feeds windows whose samples are their index (so audio can be traced) with the
    /// given probabilities; returns every event with the window index it came at.
    fn feed(detector: &mut TurnDetector, from: usize, probs: &[f32]) -> Vec<(usize, TurnEvent)> {
        let mut events = Vec::new();
        for (i, &p) in probs.iter().enumerate() {
            let index = from + i;
            let window = vec![index as f32; W];
            if let Some(e) = detector.push(&window, p) {
                events.push((index, e));
            }
        }
        events
    }

    fn kinds(events: &[(usize, TurnEvent)]) -> Vec<(usize, &'static str)> {
        events
            .iter()
            .map(|(i, e)| {
                let kind = match e {
                    TurnEvent::SpeechStarted => "started",
                    TurnEvent::SilenceStarted => "silence",
                    TurnEvent::SpeechResumed => "resumed",
                    TurnEvent::EndOfTurn { forced: false, .. } => "end",
                    TurnEvent::EndOfTurn { forced: true, .. } => "forced",
                };
                (*i, kind)
            })
            .collect()
    }

    /// The window indices present in an utterance, in order.
    fn windows_of(utterance: &[f32]) -> Vec<usize> {
        utterance.chunks(W).map(|c| c[0] as usize).collect()
    }

    fn utterance_of(event: &TurnEvent) -> &[f32] {
        match event {
            TurnEvent::EndOfTurn { utterance, .. } => utterance,
            other => panic!("not an end of turn: {other:?}"),
        }
    }

    #[test]
    fn config_follows_the_settings_in_samples() {
        let c = config();
        assert_eq!(c.end_of_turn, 4800);
        assert_eq!(c.pre_roll, 3200);
        assert_eq!(c.tail, 1536);
        assert_eq!(c.max_utterance, 480_000);
        assert!((c.release() - 0.35).abs() < 1e-6);
        // A very short end of turn keeps the tail before it.
        assert!(TurnConfig::new(0.5, 50, 30.0).tail < ms(50));
    }

    #[test]
    fn silence_only_gives_no_events() {
        let mut d = TurnDetector::new(config());
        assert!(feed(&mut d, 0, &[0.01; 200]).is_empty());
        assert!(!d.in_utterance());
        assert!(d.utterance().is_empty());
        assert_eq!(d.finish(), None);
    }

    #[test]
    fn one_window_over_threshold_is_not_speech() {
        let mut d = TurnDetector::new(config());
        let mut probs = vec![0.0; 20];
        probs[5] = 0.9;
        probs[12] = 0.9;
        assert!(feed(&mut d, 0, &probs).is_empty());
    }

    #[test]
    fn speech_then_silence_starts_goes_silent_and_ends_with_trimmed_audio() {
        let mut d = TurnDetector::new(config());
        // 20 silent windows, 30 of speech (10..39 relative), then silence.
        let mut probs = vec![0.05; 20];
        probs.extend([0.9; 30]);
        probs.extend([0.05; 40]);
        let events = feed(&mut d, 0, &probs);
        // Start on the second speech window; silence announced after 3 windows (96 ms);
        // end of turn once 4800 samples (9.4 windows → the 10th) are silent.
        assert_eq!(
            kinds(&events),
            [(21, "started"), (52, "silence"), (59, "end")]
        );
        let windows = windows_of(utterance_of(&events[2].1));
        // Pre-roll: 3200 samples = 6.25 windows before the first speech window (20);
        // the ring keeps sample-exact audio, so the first chunk starts mid-window 13.
        assert_eq!(windows.first(), Some(&13));
        // Speech ends with window 49; the 1536-sample tail is exactly three windows.
        assert_eq!(windows.last(), Some(&52));
        assert_eq!(
            utterance_of(&events[2].1).len(),
            3200 + 2 * W + 28 * W + 1536
        );
        assert!(!d.in_utterance());
    }

    #[test]
    fn speculative_utterance_at_silence_start_equals_the_final_one() {
        let mut d = TurnDetector::new(config());
        let mut probs = vec![0.0; 10];
        probs.extend([0.8; 40]);
        probs.extend([0.1; 3]);
        feed(&mut d, 0, &probs);
        // The third silent window announces the silence; snapshot what would decode.
        let speculative = d.utterance().to_vec();
        let events = feed(&mut d, 53, &[0.1; 10]);
        assert_eq!(kinds(&events).last().map(|k| k.1), Some("end"));
        assert_eq!(utterance_of(&events.last().unwrap().1), &speculative[..]);
    }

    #[test]
    fn hysteresis_keeps_speech_through_dips_above_release() {
        let mut d = TurnDetector::new(config());
        let mut probs = vec![0.0; 5];
        probs.extend([0.9; 5]);
        // Dips to 0.4 (under threshold, over release) do not start a silence.
        probs.extend([0.4; 30]);
        let events = feed(&mut d, 0, &probs);
        assert_eq!(kinds(&events), [(6, "started")]);
        assert!(d.speaking() && d.hearing_speech());
        feed(&mut d, 40, &[0.1]);
        assert!(d.speaking() && !d.hearing_speech());
    }

    #[test]
    fn only_a_window_over_threshold_resumes_after_silence() {
        let mut d = TurnDetector::new(config());
        let mut probs = vec![0.9; 5];
        probs.extend([0.1; 4]); // silence announced at index 7
        probs.extend([0.4; 2]); // between release and threshold: still silence
        probs.push(0.7); // resumes
        probs.extend([0.9; 5]);
        probs.extend([0.0; 12]);
        let events = feed(&mut d, 0, &probs);
        assert_eq!(
            kinds(&events),
            [
                (1, "started"),
                (7, "silence"),
                (11, "resumed"),
                (19, "silence"),
                (26, "end")
            ]
        );
        // The pause stays inside the utterance: nothing but the leading/trailing trim.
        let windows = windows_of(utterance_of(&events[4].1));
        assert_eq!(windows, (0..=19).collect::<Vec<_>>());
    }

    #[test]
    fn a_pause_shorter_than_end_of_turn_does_not_end_the_turn() {
        let mut d = TurnDetector::new(config());
        let mut probs = vec![0.9; 10];
        probs.extend([0.0; 9]); // 288 ms < 300 ms
        probs.extend([0.9; 10]);
        let events = feed(&mut d, 0, &probs);
        assert_eq!(
            kinds(&events),
            [(1, "started"), (12, "silence"), (19, "resumed")]
        );
        assert!(d.in_utterance());
    }

    #[test]
    fn a_long_pause_is_shortened_to_its_first_and_last_moments() {
        let mut c = TurnConfig::new(0.5, 5000, 30.0);
        c.max_pause = 8 * W;
        let mut d = TurnDetector::new(c);
        let mut probs = vec![0.9; 10]; // windows 0..=9
        probs.extend([0.0; 60]); // 10..=69: a 1.9 s pause
        probs.extend([0.9; 10]); // 70..=79
        let events = feed(&mut d, 0, &probs);
        assert_eq!(
            kinds(&events),
            [(1, "started"), (12, "silence"), (70, "resumed")]
        );
        let end = d.finish().unwrap();
        let expected: Vec<usize> = (0..14).chain(66..80).collect();
        assert_eq!(windows_of(utterance_of(&end)), expected);
    }

    #[test]
    fn a_long_utterance_is_forced_to_end_and_speech_goes_on_in_a_new_one() {
        let mut d = TurnDetector::new(TurnConfig::new(0.5, 300, 1.0));
        let events = feed(&mut d, 0, &[0.9; 80]);
        let k = kinds(&events);
        // 16000 samples = 31.25 windows: forced on the window crossing it.
        assert_eq!(k[0], (1, "started"));
        assert_eq!(k[1].1, "forced");
        assert_eq!(utterance_of(&events[1].1).len(), 16_000);
        // Speech goes on: a new utterance starts two windows later.
        assert_eq!(k[2], (k[1].0 + 2, "started"));
    }

    #[test]
    fn finish_ends_an_open_utterance() {
        let mut d = TurnDetector::new(config());
        feed(&mut d, 0, &[0.9; 10]);
        let end = d.finish().unwrap();
        assert_eq!(windows_of(utterance_of(&end)), (0..10).collect::<Vec<_>>());
        assert_eq!(d.finish(), None);
    }

    #[test]
    fn utterances_are_independent() {
        let mut d = TurnDetector::new(config());
        let mut probs = vec![0.0; 3];
        probs.extend([0.9; 10]);
        probs.extend([0.0; 30]);
        probs.extend([0.9; 10]);
        probs.extend([0.0; 30]);
        let events = feed(&mut d, 0, &probs);
        let ends: Vec<_> = events
            .iter()
            .filter(|(_, e)| matches!(e, TurnEvent::EndOfTurn { .. }))
            .collect();
        assert_eq!(ends.len(), 2);
        let second = windows_of(utterance_of(&ends[1].1));
        // The second utterance's pre-roll comes from the silence before it only.
        assert!(second.iter().all(|&w| w >= 43 - 7), "{second:?}");
        assert_eq!(second.last(), Some(&(52 + 3)));
    }
}
