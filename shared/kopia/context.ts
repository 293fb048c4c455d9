import { hostname as osHostname, userInfo } from "node:os";
import { join } from "node:path";
import { usageError } from "../exit-codes.ts";
import { valueOption, type Settings } from "../option-table.ts";
import { resolvePassword } from "../password.ts";
import { repositoryFolderName } from "../repository.ts";
import type { kopiaOptions } from "./options.ts";
import type { KopiaContext } from "./run.ts";

export interface Identity {
  hostname: string;
  username: string;
}

/**
 * The repository, password, identity and kopia's folders as one context. Each repository gets
 * folders of its own below the config, cache and log paths: kopia trusts the format blob it keeps
 * in its cache, so a cache shared by two repositories would open (or create) the second with the
 * first one's keys, and a failed connect removes the whole cache folder. `signal` cancels kopia.
 */
export function kopiaContext(settings: Settings<typeof kopiaOptions>, identity: Identity, signal: AbortSignal): KopiaContext {
  const folder = repositoryFolderName(settings.repository);
  return {
    binary: settings.kopiaPath,
    repository: settings.repository,
    password: resolvePassword(),
    hostname: identity.hostname,
    username: identity.username,
    configFile: join(settings.configPath, folder, identityFileName(identity)),
    cacheDir: join(settings.cachePath, folder),
    ...(settings.cacheSizeMB ? { cacheSizeMB: settings.cacheSizeMB } : {}),
    // Beside the cache folder, not in it: kopia removes the cache folder when a connect fails.
    lockFile: join(settings.cachePath, `${folder}.lock`),
    logDir: join(settings.logPath, folder),
    signal,
  };
}

/** `user@host.config`, cut short with a hash when long: a file name may hold at most 255 bytes. */
export function identityFileName(identity: Identity): string {
  const name = `${identity.username}@${identity.hostname}`;
  const readable = name.replace(/[^\w@.-]/g, "_");
  if (readable === name && Buffer.byteLength(name) <= 100) return `${name}.config`;
  const hash = new Bun.CryptoHasher("sha256").update(name).digest("hex").slice(0, 16);
  return `${readable.slice(0, 100)}-${hash}.config`;
}

export const isIdentityPart = (value: string) => /^[A-Za-z0-9][\w.-]*$/.test(value);

/** A Kopia identity part: the same volume must always be the same Kopia source, whatever the pod is called. */
export const identityPart = valueOption((value, field) => {
  if (!isIdentityPart(value)) throw usageError(`${field}: '${value}' may hold only letters, digits, '.', '_' and '-'`);
  return value;
});

/**
 * This machine's name and the current user's: from the passwd entry, else $USER, else the uid
 * itself (`uid-1000`): two users without a passwd entry must never share one Kopia source.
 */
export function machineIdentity(): Identity {
  const uid = process.getuid?.() ?? 0;
  let username = process.env.USER || (uid === 0 ? "root" : `uid-${uid}`);
  try {
    const fromPasswd = userInfo().username;
    if (fromPasswd && fromPasswd !== "unknown") username = fromPasswd;
  } catch {
    // a UID without a passwd entry (common in containers)
  }
  return { hostname: osHostname(), username };
}
