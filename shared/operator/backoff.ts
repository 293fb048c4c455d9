import { expBackoff } from "zx";

/** Waits between retries of the API: doubling from 250 ms, never above 10 s; a fresh sequence after a success. */
export const retryDelays = () => expBackoff("10s", "250ms");
