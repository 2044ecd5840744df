"""Device protocol codecs: C-V2X (UPER and JSON), Sparkplug B, LoRaWAN (ChirpStack, TTS, Cayenne LPP)."""
