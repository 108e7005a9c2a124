// AudioWorklet processor "mic-capture": microphone audio at the context's rate in,
// 16 kHz mono signed 16-bit little-endian PCM out, posted to the main thread in
// chunks of about 40 ms, plus the loudness (RMS) of every ~20 ms for barge-in.
//
// Messages posted on this.port:
//   {type: "pcm", buffer: ArrayBuffer}   chunkMs of s16le PCM at targetRate (transferred)
//   {type: "level", rms: number, ms: number}   RMS (0..1) of the last levelMs of input
//
// processorOptions: {targetRate = 16000, chunkMs = 40, levelMs = 20}
"use strict";

/** Windowed-sinc low-pass FIR (Hamming), unity gain at DC. cutoff in cycles/sample. */
function lowPass(cutoff, taps) {
  const h = new Float32Array(taps);
  const m = (taps - 1) / 2;
  let sum = 0;
  for (let k = 0; k < taps; k++) {
    const x = k - m;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const w = 0.54 - 0.46 * Math.cos((2 * Math.PI * k) / (taps - 1));
    h[k] = sinc * w;
    sum += h[k];
  }
  for (let k = 0; k < taps; k++) h[k] /= sum;
  return h;
}

/**
 * Streaming resampler: anti-alias filter (when going down) then linear interpolation.
 * push(Float32Array) returns the output samples that became available.
 */
class Resampler {
  constructor(inRate, outRate) {
    this.step = inRate / outRate; // input samples per output sample
    if (inRate > outRate) {
      // Cut a little below the new Nyquist frequency so little aliases back.
      this.h = lowPass((0.45 * outRate) / inRate, 31);
    } else {
      this.h = null;
    }
    this.hist = new Float32Array(this.h ? this.h.length - 1 : 0);
    this.last = 0; // last filtered sample of the previous block (index -1)
    this.t = 0; // position of the next output sample, in input samples from block start
  }

  filter(x) {
    if (!this.h) return x;
    const h = this.h;
    const taps = h.length;
    const n = x.length;
    const ext = new Float32Array(taps - 1 + n);
    ext.set(this.hist, 0);
    ext.set(x, taps - 1);
    const y = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let k = 0; k < taps; k++) acc += h[k] * ext[j + k];
      y[j] = acc;
    }
    this.hist.set(ext.subarray(n));
    return y;
  }

  push(x) {
    const y = this.filter(x);
    const n = y.length;
    if (n === 0) return new Float32Array(0);
    const out = new Float32Array(Math.ceil((n + 1) / this.step) + 1);
    let count = 0;
    let t = this.t;
    while (t < n - 1) {
      const i = Math.floor(t);
      const f = t - i;
      const a = i < 0 ? this.last : y[i];
      const b = y[i + 1];
      out[count++] = a + (b - a) * f;
      t += this.step;
    }
    this.last = y[n - 1];
    this.t = t - n;
    return out.subarray(0, count);
  }
}

class MicCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.outRate = o.targetRate || 16000;
    this.resampler = new Resampler(sampleRate, this.outRate);
    this.chunkSamples = Math.max(1, Math.round((this.outRate * (o.chunkMs || 40)) / 1000));
    this.levelMs = o.levelMs || 20;
    this.levelSamples = Math.max(1, Math.round((sampleRate * this.levelMs) / 1000));
    this.newChunk();
    this.levelSum = 0;
    this.levelCount = 0;
  }

  newChunk() {
    this.buffer = new ArrayBuffer(this.chunkSamples * 2);
    this.view = new DataView(this.buffer);
    this.filled = 0;
  }

  process(inputs, outputs) {
    // Keep the (silent) output silent; the node is connected only to stay pulled.
    for (const output of outputs) for (const channel of output) channel.fill(0);

    const input = inputs[0];
    if (!input || input.length === 0 || !input[0]) return true;

    // Mono: average the channels (the page asks for one, browsers may give two).
    let mono = input[0];
    if (input.length > 1) {
      mono = new Float32Array(input[0].length);
      for (const channel of input) for (let i = 0; i < channel.length; i++) mono[i] += channel[i];
      for (let i = 0; i < mono.length; i++) mono[i] /= input.length;
    }

    // Loudness for barge-in, over the input as captured (after echo cancellation).
    for (let i = 0; i < mono.length; i++) {
      this.levelSum += mono[i] * mono[i];
      if (++this.levelCount >= this.levelSamples) {
        this.port.postMessage({
          type: "level",
          rms: Math.sqrt(this.levelSum / this.levelCount),
          ms: (this.levelCount / sampleRate) * 1000,
        });
        this.levelSum = 0;
        this.levelCount = 0;
      }
    }

    // 16 kHz s16le chunks.
    const out = this.resampler.push(mono);
    for (let i = 0; i < out.length; i++) {
      let s = out[i];
      if (s > 1) s = 1;
      else if (s < -1) s = -1;
      this.view.setInt16(this.filled * 2, Math.round(s < 0 ? s * 0x8000 : s * 0x7fff), true);
      if (++this.filled === this.chunkSamples) {
        this.port.postMessage({ type: "pcm", buffer: this.buffer }, [this.buffer]);
        this.newChunk();
      }
    }
    return true;
  }
}

// Exported for unit checks under node; in the worklet scope only registerProcessor runs.
if (typeof registerProcessor === "function") {
  registerProcessor("mic-capture", MicCapture);
} else if (typeof module !== "undefined") {
  module.exports = { Resampler, lowPass };
}
