/**
 * How highly available the stand-in's SQL Server claims to be: SERVERPROPERTY, the catalog views and
 * DMVs SQL Server has for clustering, Always On, mirroring, log shipping and replication, with their
 * real names and columns, one configuration per run. What a configuration would not have fails as
 * SQL Server fails (Azure SQL Database has no msdb: 208; a login without VIEW SERVER STATE reading a
 * DMV: 300 then 297), never kinder.
 */
import { SqlServerError } from "./tds/handler.js";

export const DATABASE_HA_CONFIGURATIONS = [
  "standalone",
  "failover-cluster-instance",
  "availability-group",
  "availability-group-multi-subnet",
  "azure-sql-database",
  "managed-instance",
  "mirroring",
  "log-shipping",
  "published",
  "no-view-server-state",
] as const;

export type DatabaseHaConfiguration = (typeof DATABASE_HA_CONFIGURATIONS)[number];

/** The environment variable the `standin` verb reads the configuration from. */
export const DATABASE_HA_ENV = "OCTOHA_STANDIN_DB_HA";

export function parseDatabaseHaConfiguration(value: string, where: string): DatabaseHaConfiguration {
  const found = DATABASE_HA_CONFIGURATIONS.find((c) => c === value.trim().toLowerCase());
  if (!found) throw new Error(`${where} is "${value}"; use one of: ${DATABASE_HA_CONFIGURATIONS.join(", ")}`);
  return found;
}

/** The Octopus database's database_id (as DB_ID() returns it). */
export const OCTOPUS_DATABASE_ID = 5;
const GROUP_ID = "6f1c3f6e-2a39-4c55-9d0b-3f4a7a1c0001";

export interface CatalogTable {
  /** schema.table as the engine creates it (msdb.dbo. becomes msdb_dbo.). */
  name: string;
  columns: string[];
  /** Declared types of columns whose wire type is not inferred from their values. */
  types?: Record<string, string>;
  rows: Record<string, unknown>[];
}

function isAg(c: DatabaseHaConfiguration): boolean {
  return c === "availability-group" || c === "availability-group-multi-subnet";
}

/**
 * Which server and database a listener is, as SQL Server reports it (@@SERVERNAME, SERVERPROPERTY('MachineName'),
 * DB_NAME(), sys.databases.create_date): each listener of the stand-in is another SQL Server (a default instance),
 * so two databases of one stand-in differ, and one database reached by two spellings answers the same.
 */
export interface ServerIdentity {
  /** @@SERVERNAME and SERVERPROPERTY('MachineName'). */
  serverName: string;
  /** DB_NAME() and sys.databases.name of the Octopus database. */
  catalog: string;
  /** sys.databases.create_date: when the database was created, or restored. */
  created: string;
}

export const DEFAULT_SERVER_IDENTITY: ServerIdentity = {
  serverName: "SQL-OCTOPUS",
  catalog: "Octopus",
  created: "2020-01-01T00:00:00.000Z",
};

export function serverProperty(
  c: DatabaseHaConfiguration,
  name: unknown,
  server: ServerIdentity = DEFAULT_SERVER_IDENTITY,
): number | string | null {
  switch (String(name).toLowerCase()) {
    case "machinename":
    case "servername":
      return server.serverName;
    case "instancename":
      // A default instance: NULL, as SQL Server returns it.
      return null;
    case "engineedition":
      return c === "azure-sql-database" ? 5 : c === "managed-instance" ? 8 : 3;
    case "isclustered":
      return c === "failover-cluster-instance" ? 1 : 0;
    case "ishadrenabled":
      // Azure SQL Database returns NULL for IsHadrEnabled (documented: "NULL = Input is not valid, an error, or not applicable").
      return c === "azure-sql-database" ? null : isAg(c) || c === "managed-instance" || c === "no-view-server-state" ? 1 : 0;
    default:
      return null;
  }
}

/** The system views SQL Server has, with the rows this configuration shows. */
export function haCatalog(c: DatabaseHaConfiguration, server: ServerIdentity = DEFAULT_SERVER_IDENTITY): CatalogTable[] {
  const ag = isAg(c);
  const tables: CatalogTable[] = [
    {
      name: "sys.databases",
      columns: [
        "database_id",
        "name",
        "create_date",
        "is_published",
        "is_merge_published",
        "is_subscribed",
        "replica_id",
        "group_database_id",
      ],
      // create_date is datetime in SQL Server; the stand-in sends it as datetimeoffset (UTC), as it does SchemaVersions.Applied.
      types: { create_date: "DATETIMEOFFSET" },
      rows: [
        {
          database_id: 1,
          name: "master",
          create_date: "2003-04-08T09:13:36.390Z",
          is_published: 0,
          is_merge_published: 0,
          is_subscribed: 0,
        },
        {
          database_id: OCTOPUS_DATABASE_ID,
          name: server.catalog,
          create_date: server.created,
          is_published: c === "published" ? 1 : 0,
          is_merge_published: 0,
          is_subscribed: 0,
          replica_id: ag ? "6f1c3f6e-2a39-4c55-9d0b-3f4a7a1c0101" : null,
          group_database_id: ag ? "6f1c3f6e-2a39-4c55-9d0b-3f4a7a1c0201" : null,
        },
      ],
    },
    {
      name: "sys.database_mirroring",
      columns: ["database_id", "mirroring_guid", "mirroring_state_desc", "mirroring_role_desc"],
      rows: [
        c === "mirroring"
          ? {
              database_id: OCTOPUS_DATABASE_ID,
              mirroring_guid: "6f1c3f6e-2a39-4c55-9d0b-3f4a7a1c0301",
              mirroring_state_desc: "SYNCHRONIZED",
              mirroring_role_desc: "PRINCIPAL",
            }
          : { database_id: OCTOPUS_DATABASE_ID, mirroring_guid: null, mirroring_state_desc: null, mirroring_role_desc: null },
      ],
    },
    {
      name: "sys.availability_groups",
      columns: ["group_id", "name"],
      rows: ag ? [{ group_id: GROUP_ID, name: "OctopusAG" }] : [],
    },
    {
      name: "sys.availability_replicas",
      columns: ["replica_id", "group_id", "replica_server_name", "availability_mode", "availability_mode_desc"],
      rows: ag
        ? ["SQL1", "SQL2", "SQL3"].map((server, i) => ({
            replica_id: `6f1c3f6e-2a39-4c55-9d0b-3f4a7a1c010${i + 1}`,
            group_id: GROUP_ID,
            replica_server_name: server,
            availability_mode: i < 2 ? 1 : 0,
            availability_mode_desc: i < 2 ? "SYNCHRONOUS_COMMIT" : "ASYNCHRONOUS_COMMIT",
          }))
        : [],
    },
    {
      name: "sys.dm_hadr_database_replica_states",
      columns: ["database_id", "group_id", "replica_id", "is_local", "is_primary_replica", "synchronization_state_desc"],
      rows: ag
        ? [
            {
              database_id: OCTOPUS_DATABASE_ID,
              group_id: GROUP_ID,
              replica_id: "6f1c3f6e-2a39-4c55-9d0b-3f4a7a1c0101",
              is_local: 1,
              is_primary_replica: 1,
              synchronization_state_desc: "SYNCHRONIZED",
            },
          ]
        : [],
    },
    {
      name: "sys.availability_group_listeners",
      columns: ["group_id", "listener_id", "dns_name", "port"],
      rows: ag ? [{ group_id: GROUP_ID, listener_id: "OctopusAG-listener", dns_name: "octopus-ag", port: 1433 }] : [],
    },
    {
      name: "sys.availability_group_listener_ip_addresses",
      columns: ["listener_id", "ip_address", "ip_subnet_mask", "network_subnet_ip", "network_subnet_prefix_length", "state_desc"],
      rows: ag
        ? (c === "availability-group" ? ["10.0.1"] : ["10.0.1", "10.0.2"]).map((net) => ({
            listener_id: "OctopusAG-listener",
            ip_address: `${net}.50`,
            ip_subnet_mask: "255.255.255.0",
            network_subnet_ip: `${net}.0`,
            network_subnet_prefix_length: 24,
            state_desc: "ONLINE",
          }))
        : [],
    },
  ];
  // Azure SQL Database has no msdb; Managed Instance does not support log shipping but has msdb.
  if (c !== "azure-sql-database")
    tables.push({
      name: "msdb_dbo.log_shipping_primary_databases",
      columns: ["primary_id", "primary_database", "backup_directory", "backup_share"],
      rows:
        c === "log-shipping"
          ? [
              {
                primary_id: "6f1c3f6e-2a39-4c55-9d0b-3f4a7a1c0401",
                primary_database: server.catalog,
                backup_directory: "D:\\LogShipping",
                backup_share: "\\\\sql1\\LogShipping",
              },
            ]
          : [],
    });
  return tables;
}

/** A DMV read by a login without VIEW SERVER STATE: SQL Server sends 300, then 297 (the one drivers surface). */
export function deniedDmv(c: DatabaseHaConfiguration, sql: string): SqlServerError | undefined {
  if (c !== "no-view-server-state" || !/\bsys\.dm_/i.test(sql)) return undefined;
  return new SqlServerError(297, "The user does not have permission to perform this action.", 1, 16, [
    new SqlServerError(300, "VIEW SERVER STATE permission was denied on object 'server', database 'master'.", 1, 14),
  ]);
}
