package web

import "github.com/gofiber/fiber/v3"

// registerPortal serves the public verification portal (not built yet).
func (s *server) registerPortal(app *fiber.App) {}
