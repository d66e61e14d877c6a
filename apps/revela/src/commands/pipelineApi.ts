/** The one place the CLI imports the pipeline from (src/pipeline is written separately). */
export { type AppConfig, DEFAULT_APP_CONFIG, resolveAppConfig } from "../pipeline/appConfig.js";
export { type PipelineIO, runPipeline } from "../pipeline/runPipeline.js";
export { RUN_ENTRIES, RUN_STATE_FILE, readRunState } from "../pipeline/runState.js";
