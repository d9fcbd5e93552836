//! Stable routes and element ids, shared by the UI and the Playwright tests (which read the
//! same names from `end2end/tests/ids.ts`; keep the two in step).

pub const ROUTE_HOME: &str = "/";
pub const ROUTE_LOGIN: &str = "/login";
pub const ROUTE_REGISTER: &str = "/register";
pub const ROUTE_SETUP: &str = "/setup";
pub const ROUTE_PROFILE: &str = "/profile";
pub const ROUTE_CLASSES: &str = "/classes";
pub const ROUTE_ISOS: &str = "/isos";
pub const ROUTE_ADMIN_USERS: &str = "/admin/users";
pub const ROUTE_AUDIT: &str = "/audit";
pub const ROUTE_AUDIT_CSV: &str = "/api/audit.csv";
pub const AUDIT_TABLE: &str = "audit-table";

/// Set on `<body>`'s first child once the wasm has hydrated (tests wait for it).
pub const HYDRATED_MARK: &str = "data-hydrated";
pub const FORM_ERROR: &str = "form-error";
pub const FORM_NOTICE: &str = "form-notice";
pub const USER_MENU: &str = "user-menu";
pub const LOGOUT_BUTTON: &str = "logout";
pub const USERS_TABLE: &str = "users-table";
pub const ROUTE_ADMIN_CLUSTERS: &str = "/admin/clusters";
pub const ROUTE_ADMIN_SYNC: &str = "/admin/sync";
pub const VM_GRID: &str = "vm-grid";
pub const CLUSTERS_TABLE: &str = "clusters-table";
pub const CLUSTER_TEST_WARNINGS: &str = "cluster-test-warnings";
pub const ROUTE_ADMIN_JOBS: &str = "/admin/jobs";
pub const ROUTE_ADMIN_POLICIES: &str = "/admin/policies";
pub const ROUTE_ADMIN_NODES: &str = "/admin/nodes";
pub const JOBS_TABLE: &str = "jobs-table";
