import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The build is committed and embedded in the controlplane binary, and the
// test command rebuilds it to check for drift, so it must be byte-for-byte
// reproducible: content-hashed names, no timestamps, no source maps.
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    assetsDir: "assets",
    target: "es2022",
    // One bundle of the app, React, the generated client and a YAML parser.
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:7480",
      "/console/session": "http://127.0.0.1:7480",
    },
  },
});
