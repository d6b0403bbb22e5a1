// The console is served by `nimbus up` under /console on the region's main listener, from
// files embedded in the binary at build time (crates/nimbus-api/build.rs runs this build).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: { outDir: process.env.NIMBUS_CONSOLE_OUT ?? "dist", emptyOutDir: true, chunkSizeWarningLimit: 1024 },
});
