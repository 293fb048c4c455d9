import { toggle, valueOption } from "../option-table.ts";
import { parseOwner } from "./maintenance.ts";
import { kopiaOptions } from "./options.ts";

/** Every option of kopia-maintenance, each declared once. */
export const kopiaMaintenanceOptions = {
  owner: valueOption((value) => parseOwner(value))({ flag: "--owner <user@host>", env: "KK_MAINTENANCE_OWNER", help: "Maintenance owner identity", default: "maintenance@kopia-k8s" }),
  full: toggle({ flag: "--full", env: "KK_MAINTENANCE_FULL", help: "Run full maintenance even if it is not due" }),
  init: toggle({
    flag: "--init",
    env: "KK_MAINTENANCE_INIT",
    help: "Only make sure the repository exists: connect, or create it when the storage is empty, and run no maintenance (operator-backup's first Job)",
  }),
  ...kopiaOptions,
};
