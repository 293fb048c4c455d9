import { usageError } from "./exit-codes.ts";

/** The repository password, from the environment only: KOPIA_PASSWORD, or the original tool's KK_ENCRYPTION_PASSWORD. */
export function resolvePassword(): string {
  const kopiaPassword = process.env.KOPIA_PASSWORD || undefined;
  const seedPassword = process.env.KK_ENCRYPTION_PASSWORD || undefined;
  if (kopiaPassword && seedPassword && kopiaPassword !== seedPassword) {
    throw usageError("KOPIA_PASSWORD and KK_ENCRYPTION_PASSWORD differ; set only one of them");
  }
  const password = kopiaPassword ?? seedPassword;
  if (!password) {
    throw usageError("password: none given; set KOPIA_PASSWORD (or KK_ENCRYPTION_PASSWORD) in the environment, never on the command line");
  }
  return password;
}
