// Stable routes and element ids; mirror of app/src/ids.rs (keep the two in step).
export const ROUTE_HOME = "/";
export const ROUTE_LOGIN = "/login";
export const ROUTE_ADMIN_USERS = "/admin/users";
export const FORM_ERROR = "#form-error";
export const USER_MENU = "#user-menu";
export const LOGOUT_BUTTON = "#logout";
export const USERS_TABLE = "#users-table";
export const HYDRATED = "#app[data-hydrated=true]";
export const ROUTE_ADMIN_CLUSTERS = "/admin/clusters";
export const VM_GRID = "#vm-grid";
export const CLUSTERS_TABLE = "#clusters-table";
export const CLUSTER_TEST_WARNINGS = "#cluster-test-warnings";
export const ROUTE_ADMIN_JOBS = "/admin/jobs";
export const ROUTE_ADMIN_NODES = "/admin/nodes";
export const JOBS_TABLE = "#jobs-table";
export const ROUTE_ISOS = "/isos";
