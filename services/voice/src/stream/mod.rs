//! Streaming speech to text over a WebSocket: voice activity, end of turn, partial and final transcripts.
