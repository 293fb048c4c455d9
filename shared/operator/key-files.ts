import { readFileSync } from "node:fs";
import { usageError } from "../exit-codes.ts";
import { registerSecret } from "../log.ts";
import { isSecretName } from "./names.ts";
import { BACKEND_KEY_FILES, repositoryUrlWithKeyFiles, type KeyFileName, type Repository } from "../repository.ts";

/** Where the Jobs find their key files: a read-only Secret volume, one file per key. */
export const KEY_FILES_MOUNT = "/kopia-keys";

/** Key files a program finds through its environment rather than the repository URL. */
const KEY_FILE_ENV: Partial<Record<KeyFileName, string>> = { "rclone-config": "RCLONE_CONFIG" };

/** Key files whose contents are secret (known_hosts holds only public keys). */
const SECRET_KEY_FILES = new Set<KeyFileName>(["keyfile", "credentials-file", "rclone-config"]);

/** How the repository's key files reach the Jobs. */
export interface JobKeyFiles {
  /** Keys of the Secret, each mounted as a file of that name under KEY_FILES_MOUNT. */
  names: KeyFileName[];
  /** The user's Secret that holds them (--key-files-secret); otherwise they travel in the per-Job Secret. */
  userSecretName?: string;
  /** For the per-Job Secret: each file's text, read here. */
  contents: Partial<Record<KeyFileName, string>>;
  /** The repository URL the Jobs get: its file parameters name the mounted files. */
  repositoryUrl: string;
  /** Variables (no secret) naming a mounted file, e.g. RCLONE_CONFIG. */
  env: Record<string, string>;
}

const DESCRIBED = "sftp (keys keyfile and known-hosts), gcs (credentials-file) and rclone (rclone-config)";

/**
 * The key files the Jobs need: from the user's Secret when one is named, else copied from the
 * files the repository names here (URL or environment). Refuses, before anything starts, what
 * could not work in a Job: an sftp repository without both files, a file that cannot be read.
 */
export function resolveJobKeyFiles(repository: Repository, keyFilesSecret: string | undefined, userSecretName: string | undefined): JobKeyFiles {
  const backendFiles = BACKEND_KEY_FILES[repository.kind] ?? [];
  let names: KeyFileName[];
  let contents: JobKeyFiles["contents"] = {};
  if (keyFilesSecret !== undefined) {
    if (!isSecretName(keyFilesSecret)) {
      throw usageError(`--key-files-secret: '${keyFilesSecret}' is not a Secret name (lower-case letters, digits, '-' and '.')`);
    }
    if (backendFiles.length === 0) throw usageError(`--key-files-secret: a ${repository.kind} repository reads no key files; only ${DESCRIBED} do`);
    names = backendFiles;
  } else {
    names = repository.keyFiles.map((file) => file.name);
    if (names.length > 0 && userSecretName !== undefined) {
      throw usageError(`--secret: the ${repository.kind} key files (${names.join(", ")}) cannot come from operator-backup when the Jobs use your Secret; put them in a Secret of their own (keys ${names.join(", ")}) in every namespace and add --key-files-secret <name>`);
    }
  }
  if (repository.kind === "sftp" && !(names.includes("keyfile") && names.includes("known-hosts"))) {
    throw usageError(`--repository: sftp in the Jobs needs keyfile= and known-hosts= (or KK_SFTP_KEYFILE and KK_SFTP_KNOWN_HOSTS), or --key-files-secret naming a Secret with the keys keyfile and known-hosts`);
  }
  if (keyFilesSecret === undefined) contents = Object.fromEntries(repository.keyFiles.map((file) => [file.name, readKeyFile(file.name, file.path)]));
  const mounted = Object.fromEntries(names.map((name) => [name, `${KEY_FILES_MOUNT}/${name}`])) as Partial<Record<KeyFileName, string>>;
  return {
    names,
    ...(keyFilesSecret !== undefined ? { userSecretName: keyFilesSecret } : {}),
    contents,
    repositoryUrl: repositoryUrlWithKeyFiles(repository.url, mounted),
    env: Object.fromEntries(names.filter((name) => KEY_FILE_ENV[name]).map((name) => [KEY_FILE_ENV[name]!, mounted[name]!])),
  };
}

/** A key file's text (a Secret's stringData holds text only); a secret one is masked in every log line. */
function readKeyFile(name: KeyFileName, path: string): string {
  const refuse = (why: string) => usageError(`--repository: cannot read the ${name} file '${path}' (${why}); operator-backup copies it into each Job's Secret, so it must be readable here`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw refuse((error as NodeJS.ErrnoException).code ?? String(error));
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw refuse("not UTF-8 text");
  }
  if (SECRET_KEY_FILES.has(name)) {
    registerSecret(text);
    // Each long line too: a key quoted in JSON, or cut into lines, no longer holds the whole text.
    for (const line of text.split("\n")) if (line.trim().length >= 16) registerSecret(line.trim());
  }
  return text;
}
