-- The Octopus tables octoha's SQL inventory reads, in the 2018+ spelling documented in
-- reference/octopus.md §1 (SCH18, plus SpaceId from 2019.1), with a few rows.
-- For the optional real-SQL suite (test/octopus/sql-real.test.ts) ONLY: run it against a
-- throw-away database. It drops and recreates these tables.

IF OBJECT_ID(N'dbo.ServerTask', N'U') IS NOT NULL DROP TABLE dbo.ServerTask;
IF OBJECT_ID(N'dbo.OctopusServerNode', N'U') IS NOT NULL DROP TABLE dbo.OctopusServerNode;
IF OBJECT_ID(N'dbo.NuGetPackage', N'U') IS NOT NULL DROP TABLE dbo.NuGetPackage;
IF OBJECT_ID(N'dbo.SchemaVersions', N'U') IS NOT NULL DROP TABLE dbo.SchemaVersions;
IF OBJECT_ID(N'dbo.OctopusServerInstallationHistory', N'U') IS NOT NULL DROP TABLE dbo.OctopusServerInstallationHistory;
GO

CREATE TABLE dbo.ServerTask (
  Id nvarchar(50) NOT NULL CONSTRAINT PK_ServerTask_Id PRIMARY KEY,
  Name nvarchar(50) NOT NULL,
  Description nvarchar(max) NOT NULL,
  QueueTime datetimeoffset NOT NULL,
  StartTime datetimeoffset NULL,
  CompletedTime datetimeoffset NULL,
  ErrorMessage nvarchar(max) NULL,
  ConcurrencyTag nvarchar(100) NULL,
  State nvarchar(50) NOT NULL,
  HasPendingInterruptions bit NOT NULL,
  HasWarningsOrErrors bit NOT NULL,
  ServerNodeId nvarchar(250) NULL,
  ProjectId nvarchar(50) NULL,
  EnvironmentId nvarchar(50) NULL,
  TenantId nvarchar(50) NULL,
  DurationSeconds int NOT NULL,
  SpaceId nvarchar(50) NULL,
  JSON nvarchar(max) NOT NULL
);

CREATE TABLE dbo.OctopusServerNode (
  Id nvarchar(250) NOT NULL CONSTRAINT PK_OctopusServerNode_Id PRIMARY KEY,
  Name nvarchar(200) NOT NULL,
  LastSeen datetimeoffset NOT NULL,
  JSON nvarchar(max) NOT NULL,
  MaxConcurrentTasks int NOT NULL CONSTRAINT DF_OctopusServerNode_MaxConTasks DEFAULT 5,
  IsInMaintenanceMode bit NOT NULL CONSTRAINT DF_OctopusServerNode_IsInMaintenanceMode DEFAULT 0
);

CREATE TABLE dbo.NuGetPackage (
  Id nvarchar(250) NOT NULL CONSTRAINT PK_NuGetPackage_Id PRIMARY KEY,
  PackageId nvarchar(100) NOT NULL,
  Version nvarchar(349) NOT NULL,
  SpaceId nvarchar(50) NOT NULL,
  JSON nvarchar(max) NOT NULL
);

CREATE TABLE dbo.SchemaVersions (
  Id int IDENTITY(1,1) NOT NULL CONSTRAINT PK_SchemaVersions_Id PRIMARY KEY,
  ScriptName nvarchar(255) NOT NULL,
  Applied datetime NOT NULL
);

CREATE TABLE dbo.OctopusServerInstallationHistory (
  Id nvarchar(50) NOT NULL CONSTRAINT PK_OctopusServerInstallationHistory_Id PRIMARY KEY,
  Installed datetimeoffset NOT NULL,
  JSON nvarchar(max) NOT NULL,
  Node nvarchar(200) NOT NULL,
  Version nvarchar(200) NOT NULL
);
GO

INSERT INTO dbo.OctopusServerNode (Id, Name, LastSeen, JSON, MaxConcurrentTasks, IsInMaintenanceMode) VALUES
  (N'OctopusServerNodes-OCTO1', N'OCTO1', '2026-11-20T10:00:00+00:00', N'{}', 5, 0),
  (N'OctopusServerNodes-OCTO2', N'OCTO2', '2026-11-20T10:00:00+00:00', N'{}', 6, 1);

INSERT INTO dbo.ServerTask (Id, Name, Description, QueueTime, StartTime, CompletedTime, State, HasPendingInterruptions, HasWarningsOrErrors, ServerNodeId, DurationSeconds, SpaceId, JSON) VALUES
  (N'ServerTasks-1', N'Deploy', N'Deploy release 1', '2026-01-01T00:01:00+00:00', '2026-01-01T00:01:00+00:00', '2026-01-01T00:01:30+00:00', N'Success', 0, 0, N'OctopusServerNodes-OCTO1', 30, N'Spaces-1', N'{}'),
  (N'ServerTasks-2', N'Deploy', N'Deploy release 2', '2026-01-01T00:02:00+00:00', '2026-01-01T00:02:00+00:00', '2026-01-01T00:02:30+02:00', N'Failed', 0, 1, N'OctopusServerNodes-OCTO2', 30, N'Spaces-1', N'{}'),
  (N'ServerTasks-3', N'Backup', N'Back up the database', '2026-01-01T00:03:00+00:00', '2026-01-01T00:03:00+00:00', NULL, N'Executing', 0, 0, N'OctopusServerNodes-OCTO1', 0, NULL, N'{}'),
  (N'ServerTasks-4', N'Deploy', N'Deploy release 4', '2026-01-01T00:04:00+00:00', NULL, NULL, N'Queued', 0, 0, NULL, 0, N'Spaces-1', N'{}');

INSERT INTO dbo.NuGetPackage (Id, PackageId, Version, SpaceId, JSON) VALUES
  (N'packages-Acme.Web.1.0.0', N'Acme.Web', N'1.0.0', N'Spaces-1', N'{}'),
  (N'packages-Acme.Web.1.0.1', N'Acme.Web', N'1.0.1', N'Spaces-1', N'{}');

INSERT INTO dbo.SchemaVersions (ScriptName, Applied) VALUES (N'Octopus.Core.UpgradeScripts.Script0001 - Initial.sql', '2026-01-01T00:00:00');

INSERT INTO dbo.OctopusServerInstallationHistory (Id, Installed, JSON, Node, Version) VALUES
  (N'OctopusServerInstallationHistories-1', '2026-01-01T00:00:00+00:00', N'{}', N'OCTO1', N'2022.4.3963');
GO
