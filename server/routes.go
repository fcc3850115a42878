package server

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ckalab/ckalab/store"
)

func jsonDecoder(r io.Reader) *json.Decoder {
	d := json.NewDecoder(r)
	d.DisallowUnknownFields()
	return d
}

func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.ContextWithFallback = true
	e.HandleMethodNotAllowed = true
	// X-Forwarded-For is believed only from the configured proxies.
	if err := e.SetTrustedProxies(s.cfg.TrustedProxyList()); err != nil {
		s.log.Error("unusable --trusted-proxies: trusting no proxy", "err", err)
		_ = e.SetTrustedProxies(nil)
	}
	e.Use(s.observe())

	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", s.readyz)
	if s.cfg.MetricsListen == "" {
		e.GET("/metrics", s.metricsAccess(), gin.WrapH(metricsHandler(s.metrics.gatherer, s.log)))
	} else {
		e.GET("/metrics", func(c *gin.Context) {
			s.fail(c, errNotFound("/metrics is served on the metrics listener (--metrics-listen)"))
		})
	}

	api := e.Group("/api/v1", s.loadSession(), s.protect())
	api.POST("/auth/login", s.login)
	api.POST("/auth/logout", s.logout)
	api.GET("/auth/methods", s.signInMethods)
	api.GET("/auth/oidc/start", s.ssoStart)
	api.GET("/auth/oidc/callback", s.ssoCallback)
	api.GET("/session", s.session)
	api.GET("/invites/:token", s.getInvite)
	api.POST("/invites/:token/accept", s.acceptInvite)

	my := api.Group("", s.requireUser())
	my.GET("/me", s.me)
	my.GET("/users/:id", s.getUser)
	my.GET("/cohorts", s.listCohorts)
	my.POST("/cohorts", s.requireRole(store.RoleInstructor, store.RoleAdmin), s.createCohort)
	my.GET("/cohorts/:id", s.getCohort)
	my.PATCH("/cohorts/:id", s.updateCohort)
	my.GET("/cohorts/:id/invites", s.listInvites)
	my.GET("/cohorts/:id/board", s.getBoard)
	my.GET("/cohorts/:id/board/events", s.longLived(), s.boardEvents)
	my.GET("/cohorts/:id/grades.csv", s.gradesCSV)
	my.GET("/cohorts/:id/students/:uid", s.getStudent)
	my.POST("/cohorts/:id/invites", s.createInvites)
	my.GET("/audit", s.requireRole(store.RoleAdmin), s.listAudit)
	my.GET("/labs", s.listLabs)
	my.GET("/labs/:lab", s.getLab)
	my.GET("/attempts", s.listAttempts)
	my.GET("/environments", s.listEnvironments)
	my.POST("/environments", s.startEnvironment)
	my.GET("/environments/:id", s.getEnvironment)
	my.DELETE("/environments/:id", s.stopEnvironment)
	my.GET("/environments/:id/events", s.environmentEvents)
	my.POST("/environments/:id/extend", s.extendEnvironment)
	my.POST("/environments/:id/wake", s.wakeEnvironment)
	my.GET("/environments/:id/terminals", s.listTerminals)
	my.GET("/environments/:id/terminal", s.longLived(), s.openTerminal)
	my.POST("/environments/:id/check", s.checkEnvironment)
	my.GET("/environments/:id/checks", s.listChecks)
	my.GET("/environments/:id/solution", s.getSolution)
	my.POST("/environments/:id/give-up", s.giveUp)
	my.GET("/environments/:id/hints", s.listHints)
	my.POST("/environments/:id/hints", s.revealHint)
	my.POST("/environments/:id/reset", s.resetEnvironment)
	my.GET("/environments/:id/health", s.environmentHealth)

	e.NoRoute(s.noRoute)
	e.NoMethod(func(c *gin.Context) {
		s.fail(c, &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: c.Request.Method + " is not allowed here"})
	})
	return e
}

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := contextTimeout(c, 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "database": "unreachable"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "database": "ok"})
}

// noRoute answers unknown API paths in the error shape and serves the web
// app (with index.html for client-side routes) everywhere else.
func (s *Server) noRoute(c *gin.Context) {
	p := c.Request.URL.Path
	if strings.HasPrefix(p, "/api/") || p == "/api" {
		s.fail(c, errNotFound("no API route "+c.Request.Method+" "+p))
		return
	}
	if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
		s.fail(c, errNotFound("not found"))
		return
	}
	name := strings.TrimPrefix(path.Clean(p), "/")
	if name != "" {
		if f, err := fs.Stat(s.web, name); err == nil && !f.IsDir() {
			if strings.HasPrefix(name, "assets/") {
				c.Header("Cache-Control", "public, max-age=31536000, immutable")
			}
			c.FileFromFS(name, http.FS(s.web))
			return
		}
		if path.Ext(name) != "" {
			c.AbortWithStatus(http.StatusNotFound)
			return
		}
	}
	b, err := fs.ReadFile(s.web, "index.html")
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-cache")
	c.Header("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Referrer-Policy", "same-origin")
	c.Data(http.StatusOK, "text/html; charset=utf-8", b)
}
